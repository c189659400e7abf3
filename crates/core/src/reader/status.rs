//! SW3 status codes of the SAM module, as typed outcomes.

/// What the reader said about a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    FindCardSuccess,
    NoContent,
    ChecksumErrorReceived,
    LengthErrorReceived,
    CommandError,
    Unauthorised,
    Unrecognised,
    CardFailedToAuthenticateSam,
    SamFailedToAuthenticateCard,
    VerificationError,
    UnknownCardType,
    ReadFailure,
    RandomFailure,
    SamSelfTestFailure,
    SamNotAuthorised,
    NoCard,
    SelectFailure,
    Other(u8),
}

impl Status {
    pub fn from_sw3(sw3: u8) -> Status {
        match sw3 {
            0x90 => Status::Success,
            0x9F => Status::FindCardSuccess,
            0x91 => Status::NoContent,
            0x10 => Status::ChecksumErrorReceived,
            0x11 => Status::LengthErrorReceived,
            0x21 => Status::CommandError,
            0x23 => Status::Unauthorised,
            0x24 => Status::Unrecognised,
            0x31 => Status::CardFailedToAuthenticateSam,
            0x32 => Status::SamFailedToAuthenticateCard,
            0x33 => Status::VerificationError,
            0x40 => Status::UnknownCardType,
            0x41 => Status::ReadFailure,
            0x47 => Status::RandomFailure,
            0x60 => Status::SamSelfTestFailure,
            0x66 => Status::SamNotAuthorised,
            0x80 => Status::NoCard,
            0x81 => Status::SelectFailure,
            other => Status::Other(other),
        }
    }

    pub fn sw3(self) -> u8 {
        match self {
            Status::Success => 0x90,
            Status::FindCardSuccess => 0x9F,
            Status::NoContent => 0x91,
            Status::ChecksumErrorReceived => 0x10,
            Status::LengthErrorReceived => 0x11,
            Status::CommandError => 0x21,
            Status::Unauthorised => 0x23,
            Status::Unrecognised => 0x24,
            Status::CardFailedToAuthenticateSam => 0x31,
            Status::SamFailedToAuthenticateCard => 0x32,
            Status::VerificationError => 0x33,
            Status::UnknownCardType => 0x40,
            Status::ReadFailure => 0x41,
            Status::RandomFailure => 0x47,
            Status::SamSelfTestFailure => 0x60,
            Status::SamNotAuthorised => 0x66,
            Status::NoCard => 0x80,
            Status::SelectFailure => 0x81,
            Status::Other(b) => b,
        }
    }

    /// The SAM needs a reset before it will work again.
    pub fn needs_sam_reset(self) -> bool {
        matches!(self, Status::SamSelfTestFailure | Status::SamNotAuthorised)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::FindCardSuccess => "card found",
            Status::NoContent => "no content for this item on the card",
            Status::ChecksumErrorReceived => "the reader received a bad checksum",
            Status::LengthErrorReceived => "the reader received a bad length",
            Status::CommandError => "command error",
            Status::Unauthorised => "unauthorised operation",
            Status::Unrecognised => "unrecognised error",
            Status::CardFailedToAuthenticateSam => "the card failed to authenticate the SAM",
            Status::SamFailedToAuthenticateCard => "the SAM failed to authenticate the card",
            Status::VerificationError => "information verification error",
            Status::UnknownCardType => "unrecognised card type",
            Status::ReadFailure => "read failure",
            Status::RandomFailure => "get-random failure",
            Status::SamSelfTestFailure => "SAM self-test failure",
            Status::SamNotAuthorised => "SAM not authorised",
            Status::NoCard => "no card",
            Status::SelectFailure => "card select failed",
            Status::Other(_) => "unknown status",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(Status::from_sw3(b).sw3(), b);
        }
        assert!(Status::from_sw3(0x60).needs_sam_reset());
        assert!(!Status::from_sw3(0x80).needs_sam_reset());
    }
}
