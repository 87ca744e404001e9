//! Every text of the console in English and French: one table, looked up
//! by key. A key missing from the table is a test failure, not a blank.

use crate::people::Language;

/// `(key, English, French)`.
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "Lastmile HQ", "Lastmile Siège"),
    ("skip", "Skip to the content", "Aller au contenu"),
    ("nav", "Sections", "Rubriques"),
    ("dashboard", "Dashboard", "Tableau de bord"),
    ("terminals", "Terminals", "Terminaux"),
    ("vouchers", "Vouchers", "Bons"),
    ("cases", "Double spends", "Doubles dépenses"),
    ("proposals", "Approvals", "Approbations"),
    ("alarms", "Alarms", "Alarmes"),
    ("limits", "Offline limits", "Limites hors ligne"),
    ("keys", "Keys", "Clés"),
    ("users", "People and tokens", "Personnes et jetons"),
    ("audit", "Audit trail", "Journal d'audit"),
    ("sign_in", "Sign in", "Se connecter"),
    ("sign_out", "Sign out", "Se déconnecter"),
    ("username", "Username", "Identifiant"),
    ("password", "Password", "Mot de passe"),
    ("signed_in_as", "Signed in as", "Connecté en tant que"),
    ("role", "Role", "Rôle"),
    (
        "wrong_credentials",
        "The username or the password is wrong.",
        "L'identifiant ou le mot de passe est incorrect.",
    ),
    (
        "session_ended",
        "You are not signed in, or your session ended: sign in again.",
        "Vous n'êtes pas connecté, ou votre session a pris fin : reconnectez-vous.",
    ),
    (
        "account_locked",
        "Too many failed sign-ins: this account is locked for a while. Ask an admin, or try again later.",
        "Trop d'échecs de connexion : ce compte est bloqué pour un moment. Demandez à un administrateur, ou réessayez plus tard.",
    ),
    (
        "account_disabled",
        "This account is disabled.",
        "Ce compte est désactivé.",
    ),
    (
        "csrf",
        "This form expired or came from another site. Reload the page and try again.",
        "Ce formulaire a expiré ou vient d'un autre site. Rechargez la page et réessayez.",
    ),
    (
        "forbidden",
        "Your role may not open this page.",
        "Votre rôle ne permet pas d'ouvrir cette page.",
    ),
    (
        "not_found",
        "There is no such page.",
        "Cette page n'existe pas.",
    ),
    (
        "failed",
        "The server failed; try again.",
        "Le serveur a échoué ; réessayez.",
    ),
    ("terminals_total", "Terminals enrolled", "Terminaux enrôlés"),
    (
        "terminals_online",
        "Synced in the last hour",
        "Synchronisés dans l'heure",
    ),
    (
        "terminals_stale",
        "Not synced for 3 days",
        "Sans synchronisation depuis 3 jours",
    ),
    (
        "entries",
        "Log entries received",
        "Entrées de journal reçues",
    ),
    (
        "open_cases",
        "Open double-spend cases",
        "Cas de double dépense ouverts",
    ),
    (
        "pending_proposals",
        "Waiting for approval",
        "En attente d'approbation",
    ),
    ("alarms_total", "Alarms", "Alarmes"),
    ("live", "Updates live", "Mise à jour en direct"),
    ("device", "Terminal", "Terminal"),
    ("label", "Label", "Libellé"),
    ("merchant", "Merchant", "Commerçant"),
    ("site", "Site", "Site"),
    ("enrolled", "Enrolled", "Enrôlé"),
    ("last_sync", "Last sync", "Dernière synchro"),
    ("entries_held", "Entries", "Entrées"),
    ("status", "Status", "État"),
    ("active", "active", "actif"),
    ("revoked", "revoked", "révoqué"),
    ("never", "never", "jamais"),
    ("revoke", "Revoke", "Révoquer"),
    (
        "new_code",
        "New enrolment code",
        "Nouveau code d'enrôlement",
    ),
    ("create", "Create", "Créer"),
    (
        "code_created",
        "Enrolment code (shown once): type it on the terminal or scan the QR code.",
        "Code d'enrôlement (affiché une fois) : saisissez-le sur le terminal ou scannez le QR code.",
    ),
    ("expires", "Expires", "Expire"),
    ("voucher", "Voucher", "Bon"),
    (
        "find_voucher",
        "Find a voucher by its number",
        "Trouver un bon par son numéro",
    ),
    ("find", "Find", "Chercher"),
    ("value", "Value", "Valeur"),
    ("redeemed", "Redeemed", "Utilisé"),
    ("valid_until", "Valid until", "Valable jusqu'au"),
    ("programme", "Programme", "Programme"),
    (
        "redemptions",
        "Redemptions across terminals",
        "Utilisations sur tous les terminaux",
    ),
    (
        "no_redemptions",
        "No redemption has reached HQ.",
        "Aucune utilisation n'est parvenue au siège.",
    ),
    ("amount", "Amount", "Montant"),
    ("at", "When", "Quand"),
    ("received", "Received", "Reçu"),
    (
        "propose_revocation",
        "Propose revoking this voucher",
        "Proposer la révocation de ce bon",
    ),
    ("reason", "Reason", "Motif"),
    ("propose", "Propose", "Proposer"),
    (
        "proposed",
        "Proposed: a person with the approver role must now approve it.",
        "Proposé : une personne ayant le rôle d'approbateur doit maintenant l'approuver.",
    ),
    ("case", "Case", "Cas"),
    ("opened", "Opened", "Ouvert"),
    ("first", "Counted redemption", "Utilisation comptée"),
    ("second", "Conflicting redemption", "Utilisation en conflit"),
    (
        "signature_ok",
        "Signature verified with the terminal's key",
        "Signature vérifiée avec la clé du terminal",
    ),
    (
        "signature_bad",
        "The signature does NOT verify",
        "La signature NE se vérifie PAS",
    ),
    ("operator", "Operator", "Opérateur"),
    ("sequence", "Entry", "Entrée"),
    ("resolve", "Close the case", "Clore le cas"),
    ("recovered", "Recovered", "Récupéré"),
    ("dismissed", "Dismissed", "Classé"),
    ("written_off", "Written off", "Passé en perte"),
    ("note", "Note", "Note"),
    (
        "propose_write_off",
        "Propose writing it off",
        "Proposer de le passer en perte",
    ),
    ("open", "open", "ouvert"),
    ("resolved", "resolved", "clos"),
    ("kind", "Action", "Action"),
    ("object", "Object", "Objet"),
    ("proposed_by", "Proposed by", "Proposé par"),
    ("decided_by", "Decided by", "Décidé par"),
    ("approve", "Approve", "Approuver"),
    ("reject", "Reject", "Rejeter"),
    ("pending", "pending", "en attente"),
    ("approved", "approved", "approuvé"),
    ("rejected", "rejected", "rejeté"),
    (
        "own_proposal",
        "You proposed this yourself: another approver must decide it.",
        "Vous l'avez proposé vous-même : un autre approbateur doit décider.",
    ),
    ("detail", "Detail", "Détail"),
    ("actor", "Who", "Qui"),
    ("action", "What", "Quoi"),
    ("filter", "Filter", "Filtrer"),
    (
        "chain_intact",
        "Hash chain intact",
        "Chaîne de hachage intacte",
    ),
    (
        "chain_broken",
        "Hash chain BROKEN at entry",
        "Chaîne de hachage ROMPUE à l'entrée",
    ),
    ("older", "Older", "Plus anciens"),
    ("newer", "Newer", "Plus récents"),
    ("name", "Name", "Nom"),
    ("language", "Language", "Langue"),
    ("new_user", "New person", "Nouvelle personne"),
    ("disabled", "disabled", "désactivé"),
    (
        "held",
        "Created, but disabled: an approver or admin account signs in only once another person with the approver role approves it (see Approvals).",
        "Créé, mais désactivé : un compte d'approbateur ou d'administrateur ne peut se connecter qu'une fois approuvé par une autre personne ayant le rôle d'approbateur (voir Approbations).",
    ),
    (
        "awaiting_approval",
        "awaiting approval",
        "en attente d'approbation",
    ),
    ("disable", "Disable", "Désactiver"),
    ("my_tokens", "My API tokens", "Mes jetons d'API"),
    ("new_token", "New API token", "Nouveau jeton d'API"),
    (
        "token_created",
        "Your new token (shown only now; keep it secret):",
        "Votre nouveau jeton (affiché seulement maintenant ; gardez-le secret) :",
    ),
    ("last_used", "Last used", "Dernière utilisation"),
    ("currency", "Currency", "Devise"),
    (
        "credential_max",
        "Most per voucher offline",
        "Maximum par bon hors ligne",
    ),
    (
        "unsynced_value_max",
        "Most value unsynced",
        "Valeur maximale non synchronisée",
    ),
    (
        "unsynced_count_max",
        "Most entries unsynced",
        "Entrées non synchronisées au maximum",
    ),
    (
        "offline_hours_max",
        "Longest offline (hours)",
        "Hors ligne au plus (heures)",
    ),
    ("none", "Nothing here yet.", "Rien pour l'instant."),
    ("raised", "Raised", "Levée"),
    ("done", "Done.", "Fait."),
    ("suspend", "Suspend merchant", "Suspendre le commerçant"),
    ("key", "Key", "Clé"),
    ("issuer", "Issuer", "Émetteur"),
    ("valid_from", "Valid from", "Valable à partir du"),
    ("sheet", "Printable sheet", "Feuille imprimable"),
    ("jobs", "Background jobs", "Tâches de fond"),
    ("job_queued", "Waiting", "En attente"),
    ("job_running", "Running", "En cours"),
    ("job_done", "Done", "Terminées"),
    ("job_dead", "Dead (gave up)", "Abandonnées"),
    ("attempts", "Attempts", "Essais"),
    ("last_error", "Last error", "Dernière erreur"),
    ("left_after", "left after", "reste après"),
    (
        "set_limits",
        "Set the limits of a currency",
        "Fixer les limites d'une devise",
    ),
    (
        "rotate_issuer",
        "Propose a new issuer key",
        "Proposer une nouvelle clé d'émetteur",
    ),
    (
        "rotate_root",
        "Propose a new root key",
        "Proposer une nouvelle clé racine",
    ),
    (
        "suspend_reason",
        "Why (kept at HQ)",
        "Pourquoi (gardé au siège)",
    ),
];

/// The text for `key` in `language`; the key itself when the table lacks
/// it (a test holds every key used to the table).
pub fn t(language: Language, key: &str) -> &'static str {
    match TEXTS.iter().find(|(k, ..)| *k == key) {
        Some((_, en, fr)) => match language {
            Language::En => en,
            Language::Fr => fr,
        },
        None => {
            tracing::warn!(key, "console text missing");
            "?"
        }
    }
}

/// Whether the table has `key` (for the test that every key used exists).
pub fn has(key: &str) -> bool {
    TEXTS.iter().any(|(k, ..)| *k == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_are_filled() {
        let mut seen = std::collections::HashSet::new();
        for (key, en, fr) in TEXTS {
            assert!(seen.insert(key), "{key} twice");
            assert!(!en.is_empty() && !fr.is_empty(), "{key}");
        }
    }

    /// Every `t(…, "key")` in the console's sources names a key of the table.
    #[test]
    fn every_key_used_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for part in text.split("t(lang, \"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(has(key), "console text {key:?} is missing from i18n.rs");
            }
        }
    }
}
