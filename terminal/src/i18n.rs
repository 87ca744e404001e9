//! Messages for people, in the operator's language: English, French,
//! Swahili and Arabic. Keyed by the stable codes of `RejectReason::code()`,
//! `VoucherError::code()` and [`Error::code`]; English is the errors' own
//! text, and any code without a translation falls back to it.
//!
//! The GUI uses Slint's translation files for its own labels; this table is
//! for refusals, which the CLI and the GUI both show.

use lastmile_shared::rules::RejectReason;

use crate::error::Error;

/// A language the terminal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    French,
    Swahili,
    Arabic,
}

impl Language {
    /// Reads `en`, `fr`, `sw`, `ar`, or a locale such as `fr_FR.UTF-8`.
    pub fn parse(text: &str) -> Option<Language> {
        let code = text.get(..2)?.to_ascii_lowercase();
        match code.as_str() {
            "en" => Some(Language::English),
            "fr" => Some(Language::French),
            "sw" => Some(Language::Swahili),
            "ar" => Some(Language::Arabic),
            _ => None,
        }
    }

    fn column(self) -> Option<usize> {
        match self {
            Language::English => None,
            Language::French => Some(0),
            Language::Swahili => Some(1),
            Language::Arabic => Some(2),
        }
    }
}

/// (code, [French, Swahili, Arabic]). `{amount}`, `{n}` and `{id}` are
/// filled from the error.
const MESSAGES: &[(&str, [&str; 3])] = &[
    // Redemption rules.
    (
        "revoked",
        [
            "Ce bon a été révoqué.",
            "Vocha hii imefutwa.",
            "تم إلغاء هذه القسيمة.",
        ],
    ),
    (
        "merchant_revoked",
        [
            "Ce commerçant est suspendu.",
            "Mfanyabiashara huyu amesimamishwa.",
            "تم إيقاف هذا التاجر.",
        ],
    ),
    (
        "wrong_merchant",
        [
            "Ce bon ne peut pas être utilisé chez ce commerçant.",
            "Vocha hii haiwezi kutumika kwa mfanyabiashara huyu.",
            "لا يمكن استخدام هذه القسيمة لدى هذا التاجر.",
        ],
    ),
    (
        "wrong_site",
        [
            "Ce bon ne peut pas être utilisé sur ce site.",
            "Vocha hii haiwezi kutumika mahali hapa.",
            "لا يمكن استخدام هذه القسيمة في هذا الموقع.",
        ],
    ),
    (
        "not_yet_valid",
        [
            "Ce bon n'est pas encore valable.",
            "Vocha hii bado haijaanza kutumika.",
            "هذه القسيمة غير صالحة بعد.",
        ],
    ),
    (
        "expired",
        [
            "Ce bon a expiré.",
            "Muda wa vocha hii umekwisha.",
            "انتهت صلاحية هذه القسيمة.",
        ],
    ),
    (
        "identity_check_required",
        [
            "Ce bon est nominatif : vérifiez d'abord la carte d'identité.",
            "Vocha hii ni ya mtu maalum: kagua kitambulisho chake kwanza.",
            "هذه القسيمة باسم شخص محدد: تحقق من بطاقة هويته أولاً.",
        ],
    ),
    (
        "wrong_beneficiary",
        [
            "La carte d'identité présentée n'appartient pas au titulaire de ce bon.",
            "Kitambulisho kilichotolewa si cha mmiliki wa vocha hii.",
            "بطاقة الهوية المقدمة لا تخص صاحب هذه القسيمة.",
        ],
    ),
    (
        "already_redeemed",
        [
            "Ce bon a déjà été entièrement utilisé.",
            "Vocha hii imeshatumika yote.",
            "تم صرف هذه القسيمة بالكامل من قبل.",
        ],
    ),
    (
        "currency_mismatch",
        [
            "La devise du montant ne correspond pas à celle du bon.",
            "Sarafu ya kiasi hailingani na ya vocha.",
            "عملة المبلغ لا تطابق عملة القسيمة.",
        ],
    ),
    (
        "amount_not_positive",
        [
            "Le montant doit être supérieur à zéro.",
            "Kiasi lazima kiwe zaidi ya sifuri.",
            "يجب أن يكون المبلغ أكبر من صفر.",
        ],
    ),
    (
        "amount_over_balance",
        [
            "Il ne reste que {amount} sur ce bon.",
            "Zimebaki {amount} tu kwenye vocha hii.",
            "المتبقي في هذه القسيمة {amount} فقط.",
        ],
    ),
    (
        "partial_not_allowed",
        [
            "Ce bon doit être utilisé en totalité ({amount}).",
            "Vocha hii lazima itumike yote ({amount}).",
            "يجب صرف هذه القسيمة بالكامل ({amount}).",
        ],
    ),
    (
        "no_offline_limit",
        [
            "Aucune limite hors ligne pour cette devise : synchronisez d'abord.",
            "Hakuna kikomo cha nje ya mtandao kwa sarafu hii: sawazisha kwanza.",
            "لا يوجد حد للعمل دون اتصال لهذه العملة: قم بالمزامنة أولاً.",
        ],
    ),
    (
        "offline_too_long",
        [
            "Ce terminal est hors ligne depuis trop longtemps : synchronisez avant d'encaisser.",
            "Kifaa hiki kimekaa nje ya mtandao muda mrefu: sawazisha kwanza.",
            "هذا الجهاز غير متصل منذ مدة طويلة: قم بالمزامنة قبل الصرف.",
        ],
    ),
    (
        "over_credential_limit",
        [
            "Au plus {amount} peut être utilisé hors ligne sur un bon.",
            "Si zaidi ya {amount} inaweza kutumika nje ya mtandao kwa vocha moja.",
            "لا يمكن صرف أكثر من {amount} دون اتصال لقسيمة واحدة.",
        ],
    ),
    (
        "over_unsynced_value",
        [
            "La limite hors ligne est atteinte ({amount} restant) : synchronisez d'abord.",
            "Kikomo cha nje ya mtandao kimefikiwa ({amount} zimebaki): sawazisha kwanza.",
            "تم بلوغ حد العمل دون اتصال (المتبقي {amount}): قم بالمزامنة أولاً.",
        ],
    ),
    (
        "over_unsynced_count",
        [
            "Trop d'opérations non confirmées : synchronisez d'abord.",
            "Miamala mingi haijathibitishwa: sawazisha kwanza.",
            "عدد كبير من العمليات غير المؤكدة: قم بالمزامنة أولاً.",
        ],
    ),
    // Voucher codes (not_yet_valid and expired are shared with the rules).
    (
        "oversize",
        [
            "Ce code est trop long pour être un bon.",
            "Msimbo huu ni mrefu mno kuwa vocha.",
            "هذا الرمز أطول من أن يكون قسيمة.",
        ],
    ),
    (
        "not_a_voucher",
        [
            "Ce code n'est pas un bon Lastmile.",
            "Msimbo huu si vocha ya Lastmile.",
            "هذا الرمز ليس قسيمة Lastmile.",
        ],
    ),
    (
        "unsupported_version",
        [
            "Ce format de bon n'est pas pris en charge : mettez le terminal à jour.",
            "Aina hii ya vocha haitumiki: sasisha kifaa.",
            "صيغة القسيمة هذه غير مدعومة: قم بتحديث الجهاز.",
        ],
    ),
    (
        "bad_base45",
        [
            "Le code du bon est endommagé.",
            "Msimbo wa vocha umeharibika.",
            "رمز القسيمة تالف.",
        ],
    ),
    (
        "bad_cose",
        [
            "Le code du bon est endommagé.",
            "Msimbo wa vocha umeharibika.",
            "رمز القسيمة تالف.",
        ],
    ),
    (
        "bad_claims",
        [
            "Le contenu du bon est invalide.",
            "Maudhui ya vocha si halali.",
            "محتوى القسيمة غير صالح.",
        ],
    ),
    (
        "unknown_key",
        [
            "Ce bon est signé par une clé inconnue : synchronisez, puis réessayez.",
            "Vocha hii imesainiwa kwa ufunguo usiojulikana: sawazisha, kisha jaribu tena.",
            "هذه القسيمة موقعة بمفتاح غير معروف: قم بالمزامنة ثم أعد المحاولة.",
        ],
    ),
    (
        "key_revoked",
        [
            "La clé qui a signé ce bon a été révoquée.",
            "Ufunguo uliosaini vocha hii umefutwa.",
            "تم إلغاء المفتاح الذي وقّع هذه القسيمة.",
        ],
    ),
    (
        "key_retired",
        [
            "Ce bon a été émis après le retrait de sa clé.",
            "Vocha hii ilitolewa baada ya ufunguo wake kustaafishwa.",
            "صدرت هذه القسيمة بعد سحب مفتاحها.",
        ],
    ),
    (
        "key_not_valid",
        [
            "La date d'émission du bon est hors de la validité de sa clé.",
            "Tarehe ya vocha iko nje ya muda wa ufunguo wake.",
            "تاريخ إصدار القسيمة خارج فترة صلاحية مفتاحها.",
        ],
    ),
    (
        "wrong_issuer",
        [
            "Ce bon ne vient pas de l'émetteur de sa clé.",
            "Vocha hii haitoki kwa mtoaji wa ufunguo wake.",
            "هذه القسيمة لا تعود إلى مُصدر مفتاحها.",
        ],
    ),
    (
        "programme_not_allowed",
        [
            "Cette clé ne peut pas signer de bons pour ce programme.",
            "Ufunguo huu hauruhusiwi kusaini vocha za mpango huu.",
            "لا يحق لهذا المفتاح توقيع قسائم لهذا البرنامج.",
        ],
    ),
    (
        "bad_signature",
        [
            "La signature du bon est invalide : il est falsifié ou modifié.",
            "Sahihi ya vocha si halali: imeghushiwa au imebadilishwa.",
            "توقيع القسيمة غير صالح: إنها مزورة أو معدلة.",
        ],
    ),
    // The terminal's own refusals.
    (
        "person_not_found",
        [
            "Personne avec l'identifiant {id} sur la liste de ce terminal.",
            "Hakuna mtu mwenye kitambulisho {id} kwenye orodha ya kifaa hiki.",
            "لا يوجد شخص برقم الهوية {id} في قائمة هذا الجهاز.",
        ],
    ),
    (
        "entitlement_not_found",
        [
            "Cette personne n'a pas le droit {id}.",
            "Mtu huyu hana stahili {id}.",
            "هذا الشخص ليس لديه الاستحقاق {id}.",
        ],
    ),
    (
        "cash_entitlement",
        [
            "Ce droit est payé en espèces par un agent, pas chez un commerçant.",
            "Stahili hii hulipwa kwa fedha taslimu na wakala, si dukani.",
            "يُدفع هذا الاستحقاق نقداً عبر وكيل، وليس لدى التاجر.",
        ],
    ),
    (
        "merchant_entitlement",
        [
            "Ce droit s'utilise chez un commerçant, pas en espèces.",
            "Stahili hii hutumika dukani, si kwa fedha taslimu.",
            "يُصرف هذا الاستحقاق لدى التاجر، وليس نقداً.",
        ],
    ),
    (
        "no_cash_session",
        [
            "Aucune session de caisse ouverte : ouvrez-en une avec le fonds compté.",
            "Hakuna kikao cha fedha kilicho wazi: fungua kimoja kwa fedha zilizohesabiwa.",
            "لا توجد جلسة نقدية مفتوحة: افتح جلسة بالمبلغ المعدود أولاً.",
        ],
    ),
    (
        "cash_session_open",
        [
            "Une session de caisse est déjà ouverte : fermez-la d'abord.",
            "Kikao cha fedha tayari kiko wazi: kifunge kwanza.",
            "توجد جلسة نقدية مفتوحة بالفعل: أغلقها أولاً.",
        ],
    ),
    (
        "float_too_small",
        [
            "Il ne reste que {amount} en caisse.",
            "Zimebaki {amount} tu kwenye fedha za mkononi.",
            "المتبقي في الصندوق {amount} فقط.",
        ],
    ),
    (
        "not_logged_in",
        [
            "Aucun opérateur connecté : connectez-vous avec votre code.",
            "Hakuna mhudumu aliyeingia: ingia kwa PIN yako.",
            "لم يسجل أي مشغل الدخول: سجّل الدخول برمزك.",
        ],
    ),
    (
        "wrong_pin",
        [
            "Code incorrect ; encore {n} essai(s) avant blocage.",
            "PIN si sahihi; majaribio {n} yamebaki kabla ya kufungiwa.",
            "الرمز غير صحيح؛ تبقى {n} محاولة قبل القفل.",
        ],
    ),
    (
        "locked_out",
        [
            "Opérateur bloqué après trop de codes erronés ; réessayez dans {n} minute(s).",
            "Mhudumu amefungiwa kwa PIN nyingi zisizo sahihi; jaribu tena baada ya dakika {n}.",
            "تم قفل المشغل بعد محاولات خاطئة كثيرة؛ أعد المحاولة بعد {n} دقيقة.",
        ],
    ),
    (
        "not_enrolled",
        [
            "Ce terminal n'est pas enregistré.",
            "Kifaa hiki hakijasajiliwa.",
            "هذا الجهاز غير مسجل.",
        ],
    ),
    (
        "not_provisioned",
        [
            "Il manque des données à ce terminal : synchronisez d'abord.",
            "Kifaa hiki kinakosa taarifa: sawazisha kwanza.",
            "تنقص هذا الجهاز بيانات: قم بالمزامنة أولاً.",
        ],
    ),
    (
        "sync_failed",
        [
            "La synchronisation a échoué : vérifiez le réseau et réessayez.",
            "Usawazishaji umeshindwa: kagua mtandao kisha jaribu tena.",
            "فشلت المزامنة: تحقق من الشبكة وأعد المحاولة.",
        ],
    ),
];

fn parameters(error: &Error) -> (Option<String>, Option<String>, Option<String>) {
    let money = |m: &lastmile_shared::money::Money| Some(m.to_string());
    let amount = match error {
        Error::Rejected(reason) => match reason {
            RejectReason::AmountOverBalance { remaining } => money(remaining),
            RejectReason::PartialNotAllowed { value } => money(value),
            RejectReason::OverCredentialLimit { allowed } => money(allowed),
            RejectReason::OverUnsyncedValue { left } => money(left),
            _ => None,
        },
        Error::FloatTooSmall { available, .. } => money(available),
        _ => None,
    };
    let n = match error {
        Error::WrongPin { attempts_left } => Some(attempts_left.to_string()),
        Error::LockedOut { minutes_left, .. } => Some(minutes_left.to_string()),
        _ => None,
    };
    let id = match error {
        Error::PersonNotFound(id) => Some(id.clone()),
        Error::EntitlementNotFound(id) => Some(id.to_string()),
        _ => None,
    };
    (amount, n, id)
}

/// The translation of `code` in `language`, if the table has one.
pub fn translation(language: Language, code: &str) -> Option<&'static str> {
    let column = language.column()?;
    MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, texts)| texts[column])
}

/// The message for `error` in `language`.
pub fn message(language: Language, error: &Error) -> String {
    let Some(template) = translation(language, error.code()) else {
        return error.to_string();
    };
    let (amount, n, id) = parameters(error);
    let mut text = template.to_owned();
    for (placeholder, value) in [("{amount}", amount), ("{n}", n), ("{id}", id)] {
        if let Some(value) = value {
            text = text.replace(placeholder, &value);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_shared::money::{Currency, Money};

    fn every_reject_reason() -> Vec<RejectReason> {
        let kes = Currency::parse("KES").unwrap();
        let m = Money::new(100, kes);
        vec![
            RejectReason::Revoked,
            RejectReason::MerchantRevoked,
            RejectReason::WrongMerchant,
            RejectReason::WrongSite,
            RejectReason::NotYetValid,
            RejectReason::Expired,
            RejectReason::IdentityCheckRequired,
            RejectReason::WrongBeneficiary,
            RejectReason::AlreadyRedeemed,
            RejectReason::CurrencyMismatch {
                requested: kes,
                voucher: kes,
            },
            RejectReason::AmountNotPositive,
            RejectReason::AmountOverBalance { remaining: m },
            RejectReason::PartialNotAllowed { value: m },
            RejectReason::NoOfflineLimit(kes),
            RejectReason::OfflineTooLong,
            RejectReason::OverCredentialLimit { allowed: m },
            RejectReason::OverUnsyncedValue { left: m },
            RejectReason::OverUnsyncedCount,
        ]
    }

    #[test]
    fn every_rule_refusal_is_translated() {
        for reason in every_reject_reason() {
            for language in [Language::French, Language::Swahili, Language::Arabic] {
                assert!(
                    translation(language, reason.code()).is_some(),
                    "{} in {language:?}",
                    reason.code()
                );
            }
        }
    }

    #[test]
    fn parameters_are_filled() {
        let kes = Currency::parse("KES").unwrap();
        let error = Error::Rejected(RejectReason::AmountOverBalance {
            remaining: Money::new(1250, kes),
        });
        assert_eq!(
            message(Language::French, &error),
            "Il ne reste que KES 12.50 sur ce bon."
        );
        assert_eq!(
            message(Language::English, &error),
            "only KES 12.50 is left on this voucher"
        );
        assert_eq!(Language::parse("fr_FR.UTF-8"), Some(Language::French));
        assert_eq!(Language::parse("x"), None);
    }
}
