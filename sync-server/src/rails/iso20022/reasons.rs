//! ISO 20022 status reason codes (`ExternalStatusReason1Code`) in words,
//! in English and French, for people reading why a bank refused a payment,
//! and which refusals another channel could fix.
//!
//! The meanings follow the ISO 20022 external code list
//! (`ExternalStatusReason1Code`), shortened to what a programme officer
//! needs; a code not listed here is shown as the code itself.

use crate::people::Language;

/// `(code, English, French, reroutable)`.
///
/// Reroutable: the refusal is about the beneficiary's account or bank
/// (wrong, closed, blocked, not theirs, not allowed to receive this), so
/// paying the same person by another channel (mobile money, cash) could
/// succeed. Refusals about the amount, our own account, the file, the
/// date, duplicates or a death are not: another channel would meet the
/// same problem, or must not be tried.
const REASONS: &[(&str, &str, &str, bool)] = &[
    (
        "AC01",
        "The account number is wrong.",
        "Le numéro de compte est incorrect.",
        true,
    ),
    (
        "AC03",
        "The beneficiary's account number is not valid.",
        "Le numéro de compte du bénéficiaire n'est pas valide.",
        true,
    ),
    (
        "AC04",
        "The account is closed.",
        "Le compte est clôturé.",
        true,
    ),
    (
        "AC06",
        "The account is blocked.",
        "Le compte est bloqué.",
        true,
    ),
    (
        "AC13",
        "The debtor account type is missing or not valid.",
        "Le type du compte débiteur est absent ou invalide.",
        false,
    ),
    (
        "AG01",
        "This kind of payment is not allowed on the account.",
        "Ce type de paiement n'est pas autorisé sur ce compte.",
        true,
    ),
    (
        "AG02",
        "The bank operation code is not valid.",
        "Le code d'opération bancaire n'est pas valide.",
        false,
    ),
    ("AM01", "The amount is zero.", "Le montant est nul.", false),
    (
        "AM02",
        "The amount is above the maximum allowed.",
        "Le montant dépasse le maximum autorisé.",
        false,
    ),
    (
        "AM03",
        "The currency cannot be processed.",
        "La devise ne peut pas être traitée.",
        false,
    ),
    (
        "AM04",
        "Insufficient funds on the paying account.",
        "Provision insuffisante sur le compte payeur.",
        false,
    ),
    (
        "AM05",
        "The payment or file is a duplicate.",
        "Le paiement ou le fichier est un doublon.",
        false,
    ),
    (
        "AM09",
        "The amount is not the one agreed or expected.",
        "Le montant n'est pas celui convenu ou attendu.",
        false,
    ),
    (
        "AM10",
        "The control sum does not match the payments.",
        "Le total de contrôle ne correspond pas aux paiements.",
        false,
    ),
    (
        "AM18",
        "The number of payments is wrong or missing.",
        "Le nombre de paiements est incorrect ou absent.",
        false,
    ),
    (
        "BE01",
        "The beneficiary does not match the account holder.",
        "Le bénéficiaire ne correspond pas au titulaire du compte.",
        true,
    ),
    (
        "BE04",
        "The beneficiary's address is missing or wrong.",
        "L'adresse du bénéficiaire est absente ou incorrecte.",
        false,
    ),
    (
        "BE05",
        "The party that sent the file is not recognised.",
        "L'émetteur du fichier n'est pas reconnu.",
        false,
    ),
    (
        "CURR",
        "The currency is wrong.",
        "La devise est incorrecte.",
        false,
    ),
    (
        "CUST",
        "Cancelled at the paying customer's request.",
        "Annulé à la demande du donneur d'ordre.",
        false,
    ),
    (
        "DT01",
        "The date is not valid.",
        "La date n'est pas valide.",
        false,
    ),
    (
        "DUPL",
        "The payment is a duplicate of one already sent.",
        "Le paiement est un doublon d'un paiement déjà envoyé.",
        false,
    ),
    (
        "FF01",
        "The file's format is not valid.",
        "Le format du fichier n'est pas valide.",
        false,
    ),
    (
        "MD07",
        "The beneficiary is deceased.",
        "Le bénéficiaire est décédé.",
        false,
    ),
    (
        "MS02",
        "Refused by the beneficiary, reason not given.",
        "Refusé par le bénéficiaire, sans motif précisé.",
        false,
    ),
    (
        "MS03",
        "Refused by a bank, reason not given.",
        "Refusé par une banque, sans motif précisé.",
        false,
    ),
    (
        "NARR",
        "See the bank's explanation.",
        "Voir l'explication de la banque.",
        false,
    ),
    (
        "RC01",
        "The bank identifier (BIC) is wrong.",
        "L'identifiant de la banque (BIC) est incorrect.",
        true,
    ),
    (
        "RR01",
        "The paying account or its identification is missing (regulatory).",
        "Le compte payeur ou son identification manque (réglementaire).",
        false,
    ),
    (
        "RR02",
        "The payer's name or address is missing (regulatory).",
        "Le nom ou l'adresse du payeur manque (réglementaire).",
        false,
    ),
    (
        "RR03",
        "The beneficiary's name or address is missing (regulatory).",
        "Le nom ou l'adresse du bénéficiaire manque (réglementaire).",
        false,
    ),
    (
        "RR04",
        "Refused for a regulatory reason.",
        "Refusé pour une raison réglementaire.",
        false,
    ),
    (
        "TM01",
        "Received after the bank's cut-off time.",
        "Reçu après l'heure limite de la banque.",
        false,
    ),
];

fn entry(code: &str) -> Option<&'static (&'static str, &'static str, &'static str, bool)> {
    REASONS.iter().find(|(known, ..)| *known == code)
}

/// The reason in words, or `None` for a code not in the table.
pub fn describe(code: &str, language: Language) -> Option<&'static str> {
    entry(code).map(|(_, english, french, _)| match language {
        Language::En => *english,
        Language::Fr => *french,
    })
}

/// Whether paying the same beneficiary by another channel could succeed
/// after this refusal (see the table above); `false` for unknown codes, which a
/// person reads first.
pub fn reroutable(code: &str) -> bool {
    entry(code).is_some_and(|(.., reroutable)| *reroutable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the brief asked for, plus the two the bank simulator
    /// answers whole files with (AM10, AM18).
    const REQUIRED: &[&str] = &[
        "AC01", "AC03", "AC04", "AC06", "AC13", "AG01", "AG02", "AM01", "AM02", "AM03", "AM04",
        "AM05", "AM09", "AM10", "AM18", "BE01", "BE04", "BE05", "CURR", "CUST", "DT01", "DUPL",
        "FF01", "MD07", "MS02", "MS03", "NARR", "RC01", "RR01", "RR02", "RR03", "RR04", "TM01",
    ];

    #[test]
    fn every_code_has_words_in_both_languages_and_codes_are_unique() {
        for code in REQUIRED {
            let english = describe(code, Language::En).unwrap_or_else(|| panic!("{code}"));
            let french = describe(code, Language::Fr).unwrap_or_else(|| panic!("{code}"));
            assert_ne!(english, french, "{code}");
        }
        let mut codes: Vec<_> = REASONS.iter().map(|(code, ..)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), REASONS.len());
    }

    #[test]
    fn account_problems_reroute_and_the_rest_do_not() {
        for code in ["AC01", "AC03", "AC04", "AC06", "AG01", "BE01", "RC01"] {
            assert!(reroutable(code), "{code}");
        }
        for code in [
            "AM04", "AM05", "DUPL", "FF01", "MD07", "TM01", "NARR", "ZZ99",
        ] {
            assert!(!reroutable(code), "{code}");
        }
        assert_eq!(describe("ZZ99", Language::En), None);
    }
}
