//! Roles and what each may do: one matrix, consulted by every HQ route and
//! console page.

use serde::{Deserialize, Serialize};

/// A person's role at HQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// People, tokens, terminals, limits, merchants and payment rails; not approvals.
    Admin,
    /// Runs programmes: vouchers, and proposes their revocation.
    ProgrammeOfficer,
    /// Approves or rejects what others proposed; changes nothing directly.
    Approver,
    /// Money questions: fundings, payment batches and their exceptions,
    /// double-spend cases; proposes write-offs.
    Finance,
    /// Reads everything, changes nothing.
    Auditor,
    /// Terminals and cases in the field.
    Support,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::ProgrammeOfficer,
        Role::Approver,
        Role::Finance,
        Role::Auditor,
        Role::Support,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ProgrammeOfficer => "programme_officer",
            Self::Approver => "approver",
            Self::Finance => "finance",
            Self::Auditor => "auditor",
            Self::Support => "support",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether an account with this role may exist only once a second
    /// person approved it: whoever can approve, or create people (and so
    /// approvers), could otherwise be given to oneself.
    pub fn needs_approval(self) -> bool {
        self.allows(Permission::Decide) || self.allows(Permission::ManageUsers)
    }

    /// Whether this role may do `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ViewTerminals | ViewCases | ViewAlarms | ViewVouchers | ViewProposals | ViewLimits
            | ViewKeys | OwnTokens => true,
            ViewAudit => matches!(self, Admin | Approver | Auditor | Finance),
            ViewUsers | ManageUsers => self == Admin,
            ManageTerminals => matches!(self, Admin | Support),
            ResolveCases => matches!(self, Finance | Support),
            ProposeWriteOff => self == Finance,
            ProposeRevocation => matches!(self, ProgrammeOfficer | Admin),
            Decide => self == Approver,
            ManageMerchants | ManageLimits | ProposeKeyRotation => self == Admin,
            ViewProgrammes => true,
            // Names, IDs, phones and accounts: only who runs, approves or
            // audits a programme.
            ViewBeneficiaries => matches!(self, ProgrammeOfficer | Approver | Auditor),
            ManageProgrammes | ImportBeneficiaries | ManageCycles | ReviewSignals => {
                self == ProgrammeOfficer
            }
            ManageSites => matches!(self, Admin | ProgrammeOfficer),
            // Where the money is: everyone who answers for it.
            ViewLedger => matches!(
                self,
                Admin | ProgrammeOfficer | Approver | Finance | Auditor
            ),
            RecordFunding | EnterRates => self == Finance,
            // Which ID cards terminals trust: who runs the system or a
            // programme proposes, an approver decides.
            ManageIdAuthorities => matches!(self, Admin | ProgrammeOfficer),
            // Payments name no person (keys, amounts, states): whoever
            // answers for the money, and support, who fields the calls.
            ViewPayments => matches!(
                self,
                Admin | ProgrammeOfficer | Approver | Finance | Auditor | Support
            ),
            // Finance prepares batches and handles exceptions; an approver
            // decides both.
            PreparePayments | HandleExceptions => self == Finance,
            // Which banks exist and where their files go: who runs the system.
            ManageRails => self == Admin,
        }
    }
}

/// Something a route or page lets a person do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewTerminals,
    ManageTerminals,
    ViewCases,
    /// Close a case as recovered or dismissed.
    ResolveCases,
    /// Propose closing a case as written off (approved by someone else).
    ProposeWriteOff,
    ViewAlarms,
    ViewVouchers,
    /// Propose revoking a voucher (approved by someone else).
    ProposeRevocation,
    ViewProposals,
    /// Approve or reject a proposal made by someone else.
    Decide,
    ManageMerchants,
    /// Propose rotating an issuer key or the root key (approved by someone else).
    ProposeKeyRotation,
    ViewLimits,
    ManageLimits,
    ViewKeys,
    ViewUsers,
    ManageUsers,
    ViewAudit,
    /// Create and revoke one's own API tokens.
    OwnTokens,
    ViewProgrammes,
    /// Create, activate and close programmes.
    ManageProgrammes,
    /// Beneficiaries' personal data, and fraud signals.
    ViewBeneficiaries,
    ImportBeneficiaries,
    /// Generate cycles, exclude entitlements, submit cycles for approval.
    ManageCycles,
    ReviewSignals,
    /// The ledger: trial balance, statements, account histories.
    ViewLedger,
    /// Record money paid into a programme's budget, convert it between
    /// currencies at an approved rate.
    RecordFunding,
    /// Propose exchange rates (approved by someone else).
    EnterRates,
    ManageSites,
    /// Propose adding or retiring an ID authority's key (approved by
    /// someone else).
    ManageIdAuthorities,
    /// Payment batches, payments, their timelines and the files exchanged.
    ViewPayments,
    /// Prepare payment batches and submit them for approval.
    PreparePayments,
    /// Import a rail's answers, propose retrying, rerouting, cancelling or
    /// marking paid a payment in the exception queue (approved by someone else).
    HandleExceptions,
    /// Set up rails, mark them down or up.
    ManageRails,
}

impl Permission {
    pub const ALL: [Permission; 34] = [
        Permission::ViewTerminals,
        Permission::ManageTerminals,
        Permission::ViewCases,
        Permission::ResolveCases,
        Permission::ProposeWriteOff,
        Permission::ViewAlarms,
        Permission::ViewVouchers,
        Permission::ProposeRevocation,
        Permission::ViewProposals,
        Permission::Decide,
        Permission::ManageMerchants,
        Permission::ProposeKeyRotation,
        Permission::ViewLimits,
        Permission::ManageLimits,
        Permission::ViewKeys,
        Permission::ViewUsers,
        Permission::ManageUsers,
        Permission::ViewAudit,
        Permission::OwnTokens,
        Permission::ViewProgrammes,
        Permission::ManageProgrammes,
        Permission::ViewBeneficiaries,
        Permission::ImportBeneficiaries,
        Permission::ManageCycles,
        Permission::ReviewSignals,
        Permission::ViewLedger,
        Permission::RecordFunding,
        Permission::EnterRates,
        Permission::ManageSites,
        Permission::ManageIdAuthorities,
        Permission::ViewPayments,
        Permission::PreparePayments,
        Permission::HandleExceptions,
        Permission::ManageRails,
    ];

    /// The name in `openapi.yaml` (`x-lastmile-permission`) and the docs.
    pub fn code(self) -> &'static str {
        match self {
            Self::ViewTerminals => "view_terminals",
            Self::ManageTerminals => "manage_terminals",
            Self::ViewCases => "view_cases",
            Self::ResolveCases => "resolve_cases",
            Self::ProposeWriteOff => "propose_write_off",
            Self::ViewAlarms => "view_alarms",
            Self::ViewVouchers => "view_vouchers",
            Self::ProposeRevocation => "propose_revocation",
            Self::ViewProposals => "view_proposals",
            Self::Decide => "decide",
            Self::ManageMerchants => "manage_merchants",
            Self::ProposeKeyRotation => "propose_key_rotation",
            Self::ViewLimits => "view_limits",
            Self::ManageLimits => "manage_limits",
            Self::ViewKeys => "view_keys",
            Self::ViewUsers => "view_users",
            Self::ManageUsers => "manage_users",
            Self::ViewAudit => "view_audit",
            Self::OwnTokens => "own_tokens",
            Self::ViewProgrammes => "view_programmes",
            Self::ManageProgrammes => "manage_programmes",
            Self::ViewBeneficiaries => "view_beneficiaries",
            Self::ImportBeneficiaries => "import_beneficiaries",
            Self::ManageCycles => "manage_cycles",
            Self::ReviewSignals => "review_signals",
            Self::ViewLedger => "view_ledger",
            Self::RecordFunding => "record_funding",
            Self::EnterRates => "enter_rates",
            Self::ManageSites => "manage_sites",
            Self::ManageIdAuthorities => "manage_id_authorities",
            Self::ViewPayments => "view_payments",
            Self::PreparePayments => "prepare_payments",
            Self::HandleExceptions => "handle_exceptions",
            Self::ManageRails => "manage_rails",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_role_both_proposes_and_approves() {
        for role in Role::ALL {
            let proposes = role.allows(Permission::ProposeRevocation)
                || role.allows(Permission::ProposeWriteOff)
                || role.allows(Permission::ProposeKeyRotation)
                || role.allows(Permission::ManageCycles)
                || role.allows(Permission::ManageUsers)
                || role.allows(Permission::ManageIdAuthorities)
                || role.allows(Permission::PreparePayments)
                || role.allows(Permission::HandleExceptions);
            assert!(!(proposes && role.allows(Permission::Decide)), "{role:?}");
        }
    }

    #[test]
    fn the_auditor_changes_nothing() {
        let changes = Permission::ALL
            .into_iter()
            .filter(|p| !p.code().starts_with("view_") && *p != Permission::OwnTokens);
        for permission in changes {
            assert!(!Role::Auditor.allows(permission), "{permission:?}");
        }
    }

    #[test]
    fn every_permission_is_someones() {
        for permission in Permission::ALL {
            assert!(
                Role::ALL.iter().any(|r| r.allows(permission)),
                "{permission:?}"
            );
        }
    }
}
