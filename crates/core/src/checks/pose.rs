//! Which way a head is off its limits. The still check's reason and the live guide's prompt
//! both come from here, so a candidate told to raise their chin is told so by both.

use crate::catalog::CheckLimits;
use crate::engine::HeadPose;

/// The way a head is turned, bowed, raised or tilted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoseFault {
    /// Turned to one side (yaw).
    Turned,
    /// Bowed, chin down (pitch past level, positive).
    Bowed,
    /// Raised, chin up (pitch past level, negative).
    Raised,
    /// Tilted towards a shoulder (roll).
    Tilted,
}

impl PoseFault {
    /// The still check's reason key (`reasons.rs`).
    pub(super) fn reason_key(self) -> &'static str {
        match self {
            PoseFault::Turned => "turned",
            PoseFault::Bowed => "bowed",
            PoseFault::Raised => "raised",
            PoseFault::Tilted => "tilted",
        }
    }
}

/// The axis furthest towards (or past) its limit, as a share of that limit: a yaw of 12
/// against 15 is further than a pitch of 14 from level against 20.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorstAxis {
    pub fault: PoseFault,
    /// The angle on that axis, pitch measured from level (`pitch_level_deg`).
    pub degrees: f32,
    pub limit: f32,
}

impl WorstAxis {
    pub fn of(pose: &HeadPose, lim: &CheckLimits) -> WorstAxis {
        let pitch = lim.pitch_from_level(pose.pitch);
        // the mesh's pitch is positive with the chin down
        let axes = [
            (PoseFault::Turned, pose.yaw, lim.max_yaw_deg),
            (
                if pitch > 0.0 {
                    PoseFault::Bowed
                } else {
                    PoseFault::Raised
                },
                pitch,
                lim.max_pitch_deg,
            ),
            (PoseFault::Tilted, pose.roll, lim.max_roll_deg),
        ];
        // an angle the mesh could not give (NaN) is the worst of all, never passed over
        let share = |(_, d, l): &(PoseFault, f32, f32)| {
            if d.is_nan() {
                f32::INFINITY
            } else {
                d.abs() / l
            }
        };
        let (fault, degrees, limit) =
            axes.into_iter()
                .fold(axes[0], |a, c| if share(&c) > share(&a) { c } else { a });
        WorstAxis {
            fault,
            degrees,
            limit,
        }
    }

    /// Whether the head is past `share` of its limit on this axis (at 1, past the limit: on
    /// this axis and so on any); an angle the mesh could not give is.
    pub fn past(&self, share: f32) -> bool {
        self.degrees.is_nan() || self.degrees.abs() > self.limit * share
    }

    /// The axis's name in the check's detail.
    pub fn axis(&self) -> &'static str {
        match self.fault {
            PoseFault::Turned => "yaw",
            PoseFault::Bowed | PoseFault::Raised => "pitch",
            PoseFault::Tilted => "roll",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst(yaw: f32, pitch: f32, roll: f32) -> WorstAxis {
        WorstAxis::of(&HeadPose { yaw, pitch, roll }, &CheckLimits::default())
    }

    #[test]
    fn the_axis_furthest_past_its_own_limit_is_the_fault() {
        let lim = CheckLimits::default();
        // bowed past level + limit, and raised past level − limit
        let bowed = worst(0.0, lim.pitch_level_deg + lim.max_pitch_deg + 1.0, 0.0);
        assert_eq!(bowed.fault, PoseFault::Bowed);
        assert!(bowed.past(1.0));
        let raised = worst(0.0, lim.pitch_level_deg - lim.max_pitch_deg - 1.0, 0.0);
        assert_eq!(raised.fault, PoseFault::Raised);
        assert!(raised.past(1.0));
        // 19 degrees bowed from the level the mesh reads on level heads (more than 19 from 0)
        // is inside the limit
        assert!(!worst(0.0, lim.pitch_level_deg + 19.0, 0.0).past(1.0));
        // a yaw of 12 against 15 is further than a pitch 14 from level against 20
        let turned = worst(12.0, lim.pitch_level_deg + 14.0, 0.0);
        assert_eq!((turned.fault, turned.past(1.0)), (PoseFault::Turned, false));
        let tilted = worst(-3.0, lim.pitch_level_deg, -11.0);
        assert_eq!(tilted.fault, PoseFault::Tilted);
        assert!(tilted.past(1.0));
        // the live guide's margin: at 97 % of the yaw limit the still check passes, the guide
        // holding heads to 95 % of it does not
        let edge = worst(lim.max_yaw_deg * 0.97, lim.pitch_level_deg, 0.0);
        assert!(!edge.past(1.0) && edge.past(0.95));
        // an angle the mesh could not give fails, on its own axis
        let lost = worst(2.0, f32::NAN, 1.0);
        assert_eq!((lost.fault, lost.past(1.0)), (PoseFault::Raised, true));
    }
}
