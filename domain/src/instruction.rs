//! A dossier's state as the service concours sees it. The candidate's `open` dossier
//! whose deadline has passed is not a stored state: it is read from the clock, so it
//! holds at the very millisecond of the deadline without any job running.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DossierState {
    /// Préinscrit, en construction.
    Open,
    /// Clôturé, en cours d'instruction.
    Closed,
    /// Open when the deadline passed: « inscription non prise en compte ».
    NotClosedAtDeadline,
    /// Admis à concourir.
    Accepted,
    Rejected,
    /// The candidate withdrew (désistement), whatever the state before.
    Withdrawn,
}

impl DossierState {
    pub const ALL: [DossierState; 6] = [
        Self::Open,
        Self::Closed,
        Self::NotClosedAtDeadline,
        Self::Accepted,
        Self::Rejected,
        Self::Withdrawn,
    ];

    /// From the stored status, whether the exam's deadline has passed and whether the
    /// candidate withdrew (a désistement is a column of its own, `withdrawn_at`).
    pub fn of(status: &str, deadline_passed: bool, withdrawn: bool) -> Option<Self> {
        Some(match status {
            "open" | "closed" | "accepted" | "rejected" if withdrawn => Self::Withdrawn,
            "open" if deadline_passed => Self::NotClosedAtDeadline,
            "open" => Self::Open,
            "closed" => Self::Closed,
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }

    /// The code used in addresses and exports.
    pub fn code(self) -> &'static str {
        match self {
            Self::Open => "ouvert",
            Self::Closed => "cloture",
            Self::NotClosedAtDeadline => "non-cloture",
            Self::Accepted => "admis",
            Self::Rejected => "rejete",
            Self::Withdrawn => "desiste",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "en construction",
            Self::Closed => "clôturé, en cours d'instruction",
            Self::NotClosedAtDeadline => "non clôturé à la date limite",
            Self::Accepted => "admis à concourir",
            Self::Rejected => "rejeté",
            Self::Withdrawn => "désisté",
        }
    }
}

/// Where a dossier stands in the service's work: the lifecycle's state, and for a
/// closed dossier not yet decided, what the service has to do with it. The lists'
/// « État » column, filter and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// Open, before the deadline: the candidate builds it.
    Building,
    NotClosedAtDeadline,
    /// Closed, not looked at yet.
    ToCheck,
    /// Marked incomplete, no correction running.
    Incomplete,
    /// A correction request runs (until its date) and nothing came back yet.
    CorrectionAsked,
    /// The candidate sent a file for a pièce to correct: to look at again.
    CorrectionReceived,
    Complete,
    Accepted,
    Rejected,
    Withdrawn,
}

/// What a closed dossier's corrections say, read from its files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorrectionNews {
    /// A correction request still runs.
    pub running: bool,
    /// A file arrived for a corrected pièce after the request.
    pub received: bool,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Self::Building,
        Self::NotClosedAtDeadline,
        Self::ToCheck,
        Self::Incomplete,
        Self::CorrectionAsked,
        Self::CorrectionReceived,
        Self::Complete,
        Self::Accepted,
        Self::Rejected,
        Self::Withdrawn,
    ];

    /// From the lifecycle's state, the service's review and the corrections. A file
    /// sent back comes first: it waits for the service, whatever was said before.
    pub fn of(state: DossierState, review: Option<Review>, corrections: CorrectionNews) -> Self {
        match state {
            DossierState::Open => Self::Building,
            DossierState::NotClosedAtDeadline => Self::NotClosedAtDeadline,
            DossierState::Accepted => Self::Accepted,
            DossierState::Rejected => Self::Rejected,
            DossierState::Withdrawn => Self::Withdrawn,
            DossierState::Closed if corrections.received => Self::CorrectionReceived,
            DossierState::Closed if corrections.running => Self::CorrectionAsked,
            DossierState::Closed => match review {
                None => Self::ToCheck,
                Some(Review::Incomplete) => Self::Incomplete,
                Some(Review::Complete) => Self::Complete,
            },
        }
    }

    /// The lifecycle's state this stage refines.
    pub fn state(self) -> DossierState {
        match self {
            Self::Building => DossierState::Open,
            Self::NotClosedAtDeadline => DossierState::NotClosedAtDeadline,
            Self::Accepted => DossierState::Accepted,
            Self::Rejected => DossierState::Rejected,
            Self::Withdrawn => DossierState::Withdrawn,
            _ => DossierState::Closed,
        }
    }

    /// The code of addresses and exports.
    pub fn code(self) -> &'static str {
        match self {
            Self::Building => "ouvert",
            Self::NotClosedAtDeadline => "non-cloture",
            Self::ToCheck => "a-verifier",
            Self::Incomplete => "incomplet",
            Self::CorrectionAsked => "correction-demandee",
            Self::CorrectionReceived => "correction-recue",
            Self::Complete => "complet",
            Self::Accepted => "admis",
            Self::Rejected => "rejete",
            Self::Withdrawn => "desiste",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Building => "en construction",
            Self::NotClosedAtDeadline => "non clôturé à la date limite",
            Self::ToCheck => "à vérifier",
            Self::Incomplete => "incomplet",
            Self::CorrectionAsked => "correction demandée",
            Self::CorrectionReceived => "correction reçue, à revoir",
            Self::Complete => "complet",
            Self::Accepted => "admis à concourir",
            Self::Rejected => "rejeté",
            Self::Withdrawn => "désisté",
        }
    }
}

/// What a list of dossiers keeps: one stage, or every stage of a lifecycle state
/// (« cloture »: all the closed dossiers not decided, whatever their stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFilter {
    State(DossierState),
    Stage(Stage),
}

impl ListFilter {
    pub fn from_code(code: &str) -> Option<Self> {
        Stage::from_code(code)
            .map(Self::Stage)
            .or_else(|| DossierState::from_code(code).map(Self::State))
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::State(state) => state.code(),
            Self::Stage(stage) => stage.code(),
        }
    }

    pub fn keeps(self, stage: Stage) -> bool {
        match self {
            Self::State(state) => stage.state() == state,
            Self::Stage(wanted) => stage == wanted,
        }
    }
}

/// The service's verdict on a closed dossier's pièces, before the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Review {
    Complete,
    Incomplete,
}

impl Review {
    pub fn code(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Incomplete => "incomplete",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "complete" => Some(Self::Complete),
            "incomplete" => Some(Self::Incomplete),
            _ => None,
        }
    }
}

/// What the service concours may record on a dossier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Complete,
    /// With the missing items, as the candidate will read them.
    Incomplete {
        missing: String,
    },
    /// Admis à concourir.
    Accept,
    Reject {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("Ce dossier n'est pas clôturé : il ne peut pas être instruit.")]
    NotClosed,
    #[error("Une décision a déjà été prise sur ce dossier.")]
    AlreadyDecided,
    #[error(
        "Marquez d'abord le dossier complet : seul un dossier complet peut être admis à concourir."
    )]
    NotComplete,
    #[error("Indiquez les pièces manquantes : le candidat les lira.")]
    MissingItemsRequired,
    #[error("Indiquez le motif du rejet : le candidat le lira.")]
    ReasonRequired,
    #[error("Le candidat s'est désisté : ce dossier n'est plus instruit.")]
    Withdrawn,
    #[error("Aucune décision n'a été prise sur ce dossier : il n'y a rien à annuler.")]
    NothingToTakeBack,
}

impl DecisionRefused {
    const ALL: [DecisionRefused; 7] = [
        Self::NotClosed,
        Self::AlreadyDecided,
        Self::NotComplete,
        Self::MissingItemsRequired,
        Self::ReasonRequired,
        Self::Withdrawn,
        Self::NothingToTakeBack,
    ];

    /// A code for an address, so a page shows only our own messages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotClosed => "non-cloture",
            Self::AlreadyDecided => "deja-decide",
            Self::NotComplete => "pas-complet",
            Self::MissingItemsRequired => "pieces",
            Self::ReasonRequired => "motif",
            Self::Withdrawn => "desiste",
            Self::NothingToTakeBack => "rien-a-annuler",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The decision a dossier in `state` with `review` carries, which the service may take
/// back (a mistake, an appeal): admis, rejeté, or the review (complet, incomplet) of a
/// closed dossier. Its label, for the journal and the candidate's mail.
pub fn decision_to_take_back(
    state: DossierState,
    review: Option<Review>,
) -> Result<&'static str, DecisionRefused> {
    match (state, review) {
        (DossierState::Accepted, _) => Ok("admis à concourir"),
        (DossierState::Rejected, _) => Ok("rejeté"),
        (DossierState::Closed, Some(Review::Complete)) => Ok("dossier complet"),
        (DossierState::Closed, Some(Review::Incomplete)) => Ok("dossier incomplet"),
        (DossierState::Withdrawn, _) => Err(DecisionRefused::Withdrawn),
        (DossierState::Open | DossierState::NotClosedAtDeadline, _) => {
            Err(DecisionRefused::NotClosed)
        }
        (DossierState::Closed, None) => Err(DecisionRefused::NothingToTakeBack),
    }
}

impl Decision {
    /// Whether this decision may be recorded on a dossier in `state` with `review`:
    /// only a closed dossier is instructed, a decision is final, and only a complete
    /// dossier is admitted. A rejection needs a reason, an incomplete mark its items.
    pub fn check(
        &self,
        state: DossierState,
        review: Option<Review>,
    ) -> Result<(), DecisionRefused> {
        match state {
            DossierState::Accepted | DossierState::Rejected => {
                return Err(DecisionRefused::AlreadyDecided);
            }
            DossierState::Open | DossierState::NotClosedAtDeadline => {
                return Err(DecisionRefused::NotClosed);
            }
            DossierState::Withdrawn => return Err(DecisionRefused::Withdrawn),
            DossierState::Closed => {}
        }
        match self {
            Self::Complete => Ok(()),
            Self::Incomplete { missing } if missing.trim().is_empty() => {
                Err(DecisionRefused::MissingItemsRequired)
            }
            Self::Incomplete { .. } => Ok(()),
            Self::Accept if review != Some(Review::Complete) => Err(DecisionRefused::NotComplete),
            Self::Accept => Ok(()),
            Self::Reject { reason } if reason.trim().is_empty() => {
                Err(DecisionRefused::ReasonRequired)
            }
            Self::Reject { .. } => Ok(()),
        }
    }
}

/// An agent's mark on one pièce of a dossier, in the checklist beside the preview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceCheck {
    Compliant,
    ToCorrect,
}

impl PieceCheck {
    pub const ALL: [PieceCheck; 2] = [Self::Compliant, Self::ToCorrect];

    pub fn code(self) -> &'static str {
        match self {
            Self::Compliant => "conforme",
            Self::ToCorrect => "a-corriger",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Compliant => "conforme",
            Self::ToCorrect => "à corriger",
        }
    }
}

/// What an agent does to a selection of dossiers at once; each dossier is decided (or
/// written to) on its own, as from its page, and logged on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkAction {
    Complete,
    Accept,
    /// One reason for all.
    Reject,
    /// One message to each candidate.
    Message,
}

/// The most dossiers one bulk action takes.
pub const BULK_MAX: usize = 500;

impl BulkAction {
    pub const ALL: [BulkAction; 4] = [Self::Complete, Self::Accept, Self::Reject, Self::Message];

    pub fn code(self) -> &'static str {
        match self {
            Self::Complete => "complet",
            Self::Accept => "admis",
            Self::Reject => "rejete",
            Self::Message => "message",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The action, as a button or a choice says it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Complete => "Marquer complets",
            Self::Accept => "Admettre à concourir",
            Self::Reject => "Rejeter (même motif pour tous)",
            Self::Message => "Envoyer un message",
        }
    }

    /// What the agent types for it, if anything: its field's label.
    pub fn text_label(self) -> Option<&'static str> {
        match self {
            Self::Reject => Some("Motif du rejet"),
            Self::Message => Some("Message"),
            Self::Complete | Self::Accept => None,
        }
    }

    /// The decision it records, with the text typed (`None`: a message).
    pub fn decision(self, text: &str) -> Option<Decision> {
        match self {
            Self::Complete => Some(Decision::Complete),
            Self::Accept => Some(Decision::Accept),
            Self::Reject => Some(Decision::Reject {
                reason: text.to_string(),
            }),
            Self::Message => None,
        }
    }
}

/// Why a désistement is not taken as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawalRefused {
    #[error("Votre désistement est déjà enregistré.")]
    Already,
    /// Past the deadline, or once the service has decided: the service records it.
    #[error(
        "La date limite est passée ou le service concours a déjà statué : écrivez-lui pour vous désister, il l'enregistrera."
    )]
    AskTheService,
    #[error(
        "Votre inscription n'a pas été clôturée avant la date limite : elle n'est pas prise en compte, il n'y a rien à annuler."
    )]
    NothingToWithdraw,
}

impl WithdrawalRefused {
    const ALL: [WithdrawalRefused; 3] =
        [Self::Already, Self::AskTheService, Self::NothingToWithdraw];

    pub fn code(self) -> &'static str {
        match self {
            Self::Already => "deja-desiste",
            Self::AskTheService => "ecrire-au-service",
            Self::NothingToWithdraw => "rien-a-annuler",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Whether the candidate may withdraw the dossier themselves: before the deadline, an
/// open or closed dossier the service has not decided on. Later, they ask the service.
pub fn candidate_may_withdraw(
    state: DossierState,
    deadline_passed: bool,
) -> Result<(), WithdrawalRefused> {
    match state {
        DossierState::Open => Ok(()),
        DossierState::Closed if !deadline_passed => Ok(()),
        DossierState::NotClosedAtDeadline => Err(WithdrawalRefused::NothingToWithdraw),
        DossierState::Closed | DossierState::Accepted | DossierState::Rejected => {
            Err(WithdrawalRefused::AskTheService)
        }
        DossierState::Withdrawn => Err(WithdrawalRefused::Already),
    }
}

/// Whether the service may record a candidate's désistement (asked by message): at any
/// time, once.
pub fn service_may_record_withdrawal(state: DossierState) -> Result<(), WithdrawalRefused> {
    match state {
        DossierState::Withdrawn => Err(WithdrawalRefused::Already),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_dossier_s_stage_says_what_the_service_has_to_do() {
        let none = CorrectionNews::default();
        let running = CorrectionNews {
            running: true,
            received: false,
        };
        let back = CorrectionNews {
            running: true,
            received: true,
        };
        let closed = DossierState::Closed;
        assert_eq!(Stage::of(closed, None, none), Stage::ToCheck);
        assert_eq!(
            Stage::of(closed, Some(Review::Incomplete), none),
            Stage::Incomplete
        );
        assert_eq!(
            Stage::of(closed, Some(Review::Complete), none),
            Stage::Complete
        );
        assert_eq!(
            Stage::of(closed, Some(Review::Incomplete), running),
            Stage::CorrectionAsked
        );
        // A file sent back waits for the service, even once the request's date passed.
        for review in [None, Some(Review::Incomplete), Some(Review::Complete)] {
            assert_eq!(Stage::of(closed, review, back), Stage::CorrectionReceived);
            let late = CorrectionNews {
                running: false,
                received: true,
            };
            assert_eq!(Stage::of(closed, review, late), Stage::CorrectionReceived);
        }
        // Outside instruction, the lifecycle's state decides; each stage refines one.
        assert_eq!(
            Stage::of(DossierState::Withdrawn, None, back),
            Stage::Withdrawn
        );
        assert_eq!(
            Stage::of(DossierState::Accepted, None, back),
            Stage::Accepted
        );
        assert!(
            ListFilter::from_code("cloture")
                .unwrap()
                .keeps(Stage::CorrectionReceived)
        );
        assert!(
            !ListFilter::from_code("cloture")
                .unwrap()
                .keeps(Stage::Accepted)
        );
        assert!(
            !ListFilter::from_code("a-verifier")
                .unwrap()
                .keeps(Stage::Complete)
        );
        for stage in Stage::ALL {
            assert_eq!(Stage::from_code(stage.code()), Some(stage));
            assert!(ListFilter::from_code(stage.code()).unwrap().keeps(stage));
            let again = Stage::of(stage.state(), None, CorrectionNews::default());
            assert_eq!(again.state(), stage.state());
        }
    }

    #[test]
    fn a_candidate_withdraws_alone_only_before_the_deadline_and_before_a_decision() {
        assert_eq!(candidate_may_withdraw(DossierState::Open, false), Ok(()));
        assert_eq!(candidate_may_withdraw(DossierState::Closed, false), Ok(()));
        // A closed dossier reads « closed » after the deadline too.
        assert_eq!(
            candidate_may_withdraw(DossierState::Closed, true),
            Err(WithdrawalRefused::AskTheService)
        );
        assert_eq!(
            candidate_may_withdraw(DossierState::NotClosedAtDeadline, true),
            Err(WithdrawalRefused::NothingToWithdraw)
        );
        for decided in [DossierState::Accepted, DossierState::Rejected] {
            assert_eq!(
                candidate_may_withdraw(decided, false),
                Err(WithdrawalRefused::AskTheService)
            );
        }
        assert_eq!(
            candidate_may_withdraw(DossierState::Withdrawn, false),
            Err(WithdrawalRefused::Already)
        );
        assert_eq!(
            service_may_record_withdrawal(DossierState::Accepted),
            Ok(())
        );
        assert_eq!(
            service_may_record_withdrawal(DossierState::Withdrawn),
            Err(WithdrawalRefused::Already)
        );
        // A désistement wins over every stored status; an unknown one stays unknown.
        for status in ["open", "closed", "accepted", "rejected"] {
            assert_eq!(
                DossierState::of(status, true, true),
                Some(DossierState::Withdrawn)
            );
        }
        assert_eq!(DossierState::of("perdu", false, true), None);
        for r in WithdrawalRefused::ALL {
            assert_eq!(WithdrawalRefused::from_code(r.code()), Some(r));
        }
    }

    #[test]
    fn only_closed_dossiers_are_decided_and_decisions_are_final() {
        let all = [
            Decision::Complete,
            Decision::Incomplete {
                missing: "diplôme".into(),
            },
            Decision::Accept,
            Decision::Reject {
                reason: "hors délai".into(),
            },
        ];
        for decision in &all {
            for (state, refusal) in [
                (DossierState::Open, DecisionRefused::NotClosed),
                (
                    DossierState::NotClosedAtDeadline,
                    DecisionRefused::NotClosed,
                ),
                (DossierState::Accepted, DecisionRefused::AlreadyDecided),
                (DossierState::Rejected, DecisionRefused::AlreadyDecided),
                (DossierState::Withdrawn, DecisionRefused::Withdrawn),
            ] {
                assert_eq!(
                    decision.check(state, Some(Review::Complete)),
                    Err(refusal),
                    "{decision:?} {state:?}"
                );
            }
        }
    }

    #[test]
    fn a_closed_dossier_is_reviewed_then_admitted_only_when_complete() {
        let closed = DossierState::Closed;
        assert_eq!(Decision::Complete.check(closed, None), Ok(()));
        assert_eq!(
            Decision::Complete.check(closed, Some(Review::Incomplete)),
            Ok(())
        );
        assert_eq!(
            Decision::Accept.check(closed, None),
            Err(DecisionRefused::NotComplete)
        );
        assert_eq!(
            Decision::Accept.check(closed, Some(Review::Incomplete)),
            Err(DecisionRefused::NotComplete)
        );
        assert_eq!(
            Decision::Accept.check(closed, Some(Review::Complete)),
            Ok(())
        );
        let incomplete = |m: &str| Decision::Incomplete { missing: m.into() };
        assert_eq!(
            incomplete("  ").check(closed, None),
            Err(DecisionRefused::MissingItemsRequired)
        );
        assert_eq!(
            incomplete("état des services").check(closed, Some(Review::Complete)),
            Ok(())
        );
        let reject = |r: &str| Decision::Reject { reason: r.into() };
        assert_eq!(
            reject("").check(closed, None),
            Err(DecisionRefused::ReasonRequired)
        );
        assert_eq!(
            reject("conditions de diplôme non remplies").check(closed, None),
            Ok(())
        );
    }

    #[test]
    fn an_open_dossier_past_its_deadline_is_not_closed_at_deadline() {
        assert_eq!(
            DossierState::of("open", false, false),
            Some(DossierState::Open)
        );
        assert_eq!(
            DossierState::of("open", true, false),
            Some(DossierState::NotClosedAtDeadline)
        );
        // A closed dossier stays closed whatever the clock says.
        assert_eq!(
            DossierState::of("closed", true, false),
            Some(DossierState::Closed)
        );
        assert_eq!(DossierState::of("lost", false, false), None);
    }

    #[test]
    fn codes_read_back() {
        for state in DossierState::ALL {
            assert_eq!(DossierState::from_code(state.code()), Some(state));
        }
        for refusal in DecisionRefused::ALL {
            assert_eq!(
                DecisionRefused::from_code(refusal.code()),
                Some(refusal.clone())
            );
        }
        assert_eq!(DossierState::from_code("ouvert "), None);
    }
}
