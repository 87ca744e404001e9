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
    ("programmes", "Programmes", "Programmes"),
    ("signals", "Fraud signals", "Signaux de fraude"),
    ("programme_id", "Programme id", "Identifiant du programme"),
    ("new_programme", "New programme", "Nouveau programme"),
    (
        "create_programme",
        "Create the programme",
        "Créer le programme",
    ),
    (
        "programme_created",
        "Programme created, as a draft: import its beneficiaries, then activate it.",
        "Programme créé, en brouillon : importez ses bénéficiaires, puis activez-le.",
    ),
    (
        "programme_activated",
        "Programme activated: its cycles can now be generated.",
        "Programme activé : ses cycles peuvent maintenant être générés.",
    ),
    ("programme_closed", "Programme closed.", "Programme clos."),
    ("programme_facts", "The programme", "Le programme"),
    (
        "programme_is_closed",
        "This programme is closed: nothing more is imported into it.",
        "Ce programme est clos : plus rien n'y est importé.",
    ),
    ("all_programmes", "All programmes", "Tous les programmes"),
    ("channels", "Payment channels", "Canaux de paiement"),
    (
        "channels_order",
        "Payment channels, in order of preference",
        "Canaux de paiement, par ordre de préférence",
    ),
    (
        "channels_hint",
        "bank, mobile, cash or voucher, separated by commas: the first a person has is the one used.",
        "bank, mobile, cash ou voucher, séparés par des virgules : le premier dont une personne dispose est celui utilisé.",
    ),
    ("budget", "Budget", "Budget"),
    (
        "budget_per_cycle",
        "Budget of one cycle",
        "Budget d'un cycle",
    ),
    (
        "starts_on",
        "Starts on (YYYY-MM-DD)",
        "Commence le (AAAA-MM-JJ)",
    ),
    (
        "ends_on",
        "Ends on (optional)",
        "Se termine le (facultatif)",
    ),
    ("target", "Who is paid", "Qui est payé"),
    ("target_individual", "each person", "chaque personne"),
    (
        "target_household",
        "each household (its head)",
        "chaque ménage (son chef)",
    ),
    ("household_max", "Largest household", "Ménage le plus grand"),
    (
        "id_pattern",
        "National ID format",
        "Format de la pièce d'identité",
    ),
    (
        "id_pattern_hint",
        "Optional. 9 is a digit, A a letter, * either: 99999999 is eight digits.",
        "Facultatif. 9 est un chiffre, A une lettre, * l'un ou l'autre : 99999999 fait huit chiffres.",
    ),
    (
        "any_id",
        "any letters and digits",
        "lettres et chiffres quelconques",
    ),
    ("created", "Created", "Créé"),
    ("updated", "Updated", "Mis à jour"),
    ("sites", "Distribution sites", "Sites de distribution"),
    ("site_id", "Site id", "Identifiant du site"),
    (
        "new_site",
        "New distribution site",
        "Nouveau site de distribution",
    ),
    ("site_created", "Site registered.", "Site enregistré."),
    (
        "first_sites",
        "Only the first sites are listed.",
        "Seuls les premiers sites sont listés.",
    ),
    ("state_draft", "draft", "brouillon"),
    ("state_active", "active", "actif"),
    ("state_closed", "closed", "clos"),
    (
        "state_submitted",
        "submitted for approval",
        "soumis à approbation",
    ),
    ("state_excluded", "excluded", "exclu"),
    ("state_cancelled", "cancelled", "annulé"),
    ("inactive", "inactive", "inactif"),
    ("channel", "Channel", "Canal"),
    ("channel_bank", "bank transfer", "virement bancaire"),
    ("channel_mobile", "mobile money", "mobile money"),
    ("channel_cash", "cash at a site", "espèces sur un site"),
    ("channel_voucher", "voucher", "bon"),
    (
        "channel_iban",
        "Bank transfer (IBAN)",
        "Virement bancaire (IBAN)",
    ),
    ("channel_account", "Bank transfer", "Virement bancaire"),
    ("bank_code", "bank", "banque"),
    ("account_number", "account", "compte"),
    (
        "channel_chosen",
        "used for payments",
        "utilisé pour les paiements",
    ),
    ("payment_channels", "Payment channels", "Canaux de paiement"),
    (
        "channels_in_order",
        "In the person's order of preference; cycles pay by the first one the programme allows.",
        "Dans l'ordre de préférence de la personne ; les cycles paient par le premier que le programme autorise.",
    ),
    ("activate", "Activate the programme", "Activer le programme"),
    (
        "activate_hint",
        "A draft programme generates no cycle: activate it once its beneficiaries are in.",
        "Un programme en brouillon ne génère aucun cycle : activez-le une fois ses bénéficiaires importés.",
    ),
    (
        "activate_first",
        "Activate the programme to generate its cycles.",
        "Activez le programme pour générer ses cycles.",
    ),
    (
        "close_hint",
        "Closing ends the programme: no more imports or cycles.",
        "Clore met fin au programme : plus d'import ni de cycle.",
    ),
    (
        "close_programme",
        "Close the programme",
        "Clore le programme",
    ),
    ("beneficiaries", "Beneficiaries", "Bénéficiaires"),
    (
        "active_beneficiaries",
        "Active beneficiaries",
        "Bénéficiaires actifs",
    ),
    (
        "open_signals",
        "Open fraud signals",
        "Signaux de fraude ouverts",
    ),
    ("beneficiary", "Beneficiary", "Bénéficiaire"),
    ("national_id", "National ID", "Pièce d'identité"),
    ("phone", "Phone", "Téléphone"),
    ("household", "Household", "Ménage"),
    ("head", "head", "chef"),
    ("member", "member", "membre"),
    (
        "search_exact",
        "Beneficiary id, national ID, phone or household (exactly)",
        "Identifiant, pièce d'identité, téléphone ou ménage (exactement)",
    ),
    ("search_name", "Name starts with", "Le nom commence par"),
    (
        "no_beneficiaries",
        "No beneficiary matches.",
        "Aucun bénéficiaire ne correspond.",
    ),
    ("import", "Import", "Importer"),
    ("imports", "Imports", "Imports"),
    (
        "import_file",
        "Import a beneficiary file",
        "Importer un fichier de bénéficiaires",
    ),
    ("import_done", "Import", "Import"),
    (
        "imported",
        "Imported (import #{import}).",
        "Importé (import n° {import}).",
    ),
    ("imported_by", "Imported by", "Importé par"),
    (
        "nothing_changed",
        "Nothing changed: every row of this file is already in the register as it is.",
        "Rien n'a changé : chaque ligne de ce fichier figure déjà telle quelle dans le registre.",
    ),
    ("file", "File", "Fichier"),
    ("csv_file", "CSV file", "Fichier CSV"),
    ("bytes", "bytes", "octets"),
    ("uploaded", "Uploaded", "Envoyé"),
    ("headers", "Headers", "En-têtes"),
    ("upload_file", "Upload a file", "Envoyer un fichier"),
    (
        "upload_and_check",
        "Upload and check",
        "Envoyer et vérifier",
    ),
    (
        "upload_another",
        "Upload another file",
        "Envoyer un autre fichier",
    ),
    (
        "upload_hint",
        "A CSV file with a header row, at most {mb} MB. Nothing is imported yet: you see the check first.",
        "Un fichier CSV avec une ligne d'en-têtes, {mb} Mo au plus. Rien n'est encore importé : vous voyez d'abord la vérification.",
    ),
    (
        "upload_gone",
        "This upload is no longer here (imported, expired after an hour, or not yours): upload the file again.",
        "Ce fichier n'est plus là (importé, expiré au bout d'une heure, ou pas le vôtre) : envoyez-le de nouveau.",
    ),
    (
        "no_file",
        "Choose a file that is not empty.",
        "Choisissez un fichier non vide.",
    ),
    ("fields", "Fields of the register", "Champs du registre"),
    (
        "fields_hint",
        "A column of the file fills each field; the headers are matched to fields, and you confirm the mapping after uploading.",
        "Une colonne du fichier remplit chaque champ ; les en-têtes sont rapprochés des champs, et vous confirmez la correspondance après l'envoi.",
    ),
    ("required", "required", "obligatoire"),
    (
        "field_beneficiary_id",
        "Beneficiary id",
        "Identifiant du bénéficiaire",
    ),
    ("field_name", "Name", "Nom"),
    ("field_national_id", "National ID", "Pièce d'identité"),
    ("field_phone", "Phone", "Téléphone"),
    ("field_household", "Household", "Ménage"),
    (
        "field_household_role",
        "Household role (head or member)",
        "Rôle dans le ménage (chef ou membre)",
    ),
    ("field_site", "Distribution site", "Site de distribution"),
    ("field_iban", "IBAN", "IBAN"),
    ("field_bank_code", "Bank code", "Code de la banque"),
    ("field_account_number", "Account number", "Numéro de compte"),
    (
        "field_mobile_operator",
        "Mobile-money operator",
        "Opérateur de mobile money",
    ),
    ("field_msisdn", "Wallet number", "Numéro du portefeuille"),
    (
        "field_channels",
        "Channels in the person's order",
        "Canaux dans l'ordre de la personne",
    ),
    (
        "field_status",
        "Status (active or inactive)",
        "État (actif ou inactif)",
    ),
    ("mapping", "Column mapping", "Correspondance des colonnes"),
    (
        "mapping_hint",
        "Which column of the file fills each field; change one, then check again.",
        "Quelle colonne du fichier remplit chaque champ ; changez-en une, puis vérifiez de nouveau.",
    ),
    ("not_in_file", "not in the file", "absent du fichier"),
    ("check", "Check", "Vérification"),
    ("check_again", "Check again", "Vérifier de nouveau"),
    (
        "check_clean",
        "No row has an error: importing would do what is counted below.",
        "Aucune ligne n'a d'erreur : l'import ferait ce qui est compté ci-dessous.",
    ),
    (
        "check_errors",
        "{rows} row(s) have errors, listed below: the file imports nothing unless you fix them, or choose to import only the good rows.",
        "{rows} ligne(s) ont des erreurs, listées ci-dessous : le fichier n'importe rien sauf si vous les corrigez, ou choisissez de n'importer que les bonnes lignes.",
    ),
    (
        "import_good_rows",
        "Import only the {rows} good rows",
        "N'importer que les {rows} bonnes lignes",
    ),
    (
        "good_rows_only",
        "good rows only",
        "bonnes lignes seulement",
    ),
    ("rows_read", "Rows read", "Lignes lues"),
    ("would_create", "Would be created", "Seraient créés"),
    ("would_update", "Would be updated", "Seraient mis à jour"),
    ("created_rows", "Created", "Créés"),
    ("updated_rows", "Updated", "Mis à jour"),
    ("unchanged_rows", "Unchanged", "Inchangés"),
    ("rejected_rows", "Rows rejected", "Lignes rejetées"),
    ("errors", "Errors", "Erreurs"),
    ("row_errors", "Errors by line", "Erreurs par ligne"),
    (
        "errors_listed",
        "The first {listed} of {total} errors are listed.",
        "Les {listed} premières erreurs sur {total} sont listées.",
    ),
    ("line", "Line", "Ligne"),
    ("column", "Column", "Colonne"),
    (
        "back_to_programme",
        "Back to the programme",
        "Retour au programme",
    ),
    ("cycle", "Cycle", "Cycle"),
    ("cycles", "Cycles", "Cycles"),
    ("period", "Period", "Période"),
    ("rule", "Rule", "Règle"),
    (
        "rule_flat",
        "The same amount for each one paid",
        "Le même montant pour chacun",
    ),
    (
        "rule_per_member",
        "An amount per household member, with a cap",
        "Un montant par membre du ménage, plafonné",
    ),
    (
        "rule_flat_words",
        "{amount} for each one paid",
        "{amount} pour chacun",
    ),
    (
        "rule_per_member_words",
        "{amount} per household member, at most {cap} per household",
        "{amount} par membre du ménage, au plus {cap} par ménage",
    ),
    ("cap", "Cap per household", "Plafond par ménage"),
    (
        "cap_hint",
        "Only for an amount per member.",
        "Seulement pour un montant par membre.",
    ),
    ("generate_cycle", "Generate a cycle", "Générer un cycle"),
    ("generate", "Generate", "Générer"),
    (
        "generate_hint",
        "Every active beneficiary without an entitlement in this period gets one; generating the same period again adds only those imported since.",
        "Chaque bénéficiaire actif sans droit sur cette période en reçoit un ; générer de nouveau la même période n'ajoute que ceux importés depuis.",
    ),
    (
        "cycle_generated",
        "Cycle generated, as a draft: check it, exclude whom you must, then submit it for approval.",
        "Cycle généré, en brouillon : vérifiez-le, excluez qui vous devez, puis soumettez-le à approbation.",
    ),
    ("generated_by", "Generated by", "Généré par"),
    ("approved_by", "Approved by", "Approuvé par"),
    ("entitlements", "Entitlements", "Droits"),
    ("total", "Total", "Total"),
    ("excluded", "Excluded", "Exclus"),
    ("over_budget", "over the budget", "au-dessus du budget"),
    (
        "over_budget_warning",
        "This cycle totals more than the programme's budget: exclude some entitlements, or ask the approver to approve it over the budget.",
        "Ce cycle dépasse le budget du programme : excluez des droits, ou demandez à l'approbateur de l'approuver au-delà du budget.",
    ),
    (
        "over_budget_ask",
        "Ask for approval over the budget",
        "Demander l'approbation au-delà du budget",
    ),
    ("breakdown", "By state and channel", "Par état et par canal"),
    ("count", "Count", "Nombre"),
    ("members", "Members", "Membres"),
    ("exclusion", "Exclusion", "Exclusion"),
    ("exclude", "Exclude", "Exclure"),
    ("include", "Include again", "Réintégrer"),
    (
        "entitlement_excluded",
        "Entitlement excluded.",
        "Droit exclu.",
    ),
    (
        "entitlement_included",
        "Entitlement included again.",
        "Droit réintégré.",
    ),
    (
        "entitlements_private",
        "The entitlements name beneficiaries: your role sees only the totals.",
        "Les droits nomment des bénéficiaires : votre rôle ne voit que les totaux.",
    ),
    (
        "submit_cycle",
        "Submit for approval",
        "Soumettre à approbation",
    ),
    (
        "submit_for_approval",
        "Submit for approval",
        "Soumettre à approbation",
    ),
    (
        "submit_hint",
        "An approver who did not generate the cycle decides; the proposal starts with the totals above. Until then, the cycle cannot change.",
        "Un approbateur qui n'a pas généré le cycle décide ; la proposition commence par les totaux ci-dessus. D'ici là, le cycle ne peut plus changer.",
    ),
    (
        "cycle_submitted",
        "Submitted: an approver decides it on the approvals page.",
        "Soumis : un approbateur en décide sur la page des approbations.",
    ),
    (
        "approval_waiting",
        "Waiting for approval: proposal",
        "En attente d'approbation : proposition",
    ),
    (
        "see_cycle",
        "See the cycle's totals",
        "Voir les totaux du cycle",
    ),
    ("all", "All", "Tous"),
    ("all_signals", "All signals", "Tous les signaux"),
    ("signal", "Signal", "Signal"),
    (
        "signals_hint",
        "A signal blocks no one: look at the people it names, then mark it reviewed with what you found.",
        "Un signal ne bloque personne : examinez les personnes qu'il nomme, puis marquez-le examiné avec ce que vous avez constaté.",
    ),
    ("no_signals", "No fraud signal.", "Aucun signal de fraude."),
    ("who", "Who", "Qui"),
    ("found", "Found", "Détecté"),
    ("review", "Review", "Examen"),
    ("reviewed", "reviewed", "examiné"),
    ("mark_reviewed", "Mark reviewed", "Marquer examiné"),
    (
        "signal_reviewed",
        "Signal marked reviewed.",
        "Signal marqué examiné.",
    ),
    ("across_programmes", "across programmes", "entre programmes"),
    (
        "signal_same_national_id",
        "The same national ID on several people",
        "La même pièce d'identité pour plusieurs personnes",
    ),
    (
        "signal_same_phone",
        "The same phone number on several people",
        "Le même numéro de téléphone pour plusieurs personnes",
    ),
    (
        "signal_same_account",
        "The same bank account on several people",
        "Le même compte bancaire pour plusieurs personnes",
    ),
    (
        "signal_same_wallet",
        "The same mobile-money wallet on several people",
        "Le même portefeuille mobile money pour plusieurs personnes",
    ),
    (
        "signal_household_too_large",
        "A household larger than the programme allows",
        "Un ménage plus grand que ce que le programme permet",
    ),
    (
        "signal_household_without_head",
        "A household without a head",
        "Un ménage sans chef",
    ),
    (
        "signal_household_heads",
        "A household with several heads",
        "Un ménage avec plusieurs chefs",
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
