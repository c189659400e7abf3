//! The staff PIN's rules: the default of a new kiosk, how long a PIN is, and which new PINs
//! are too easy to guess. How it is stored and checked is the kiosk's (`kiosk::staff`).

use crate::text::StaticText;
use std::ops::RangeInclusive;

/// The PIN of a new kiosk (the demo hint shows it); staff set their own in the menu or with
/// `kiosk staff pin`.
pub const DEFAULT_PIN: &str = "123456";

/// A PIN has this many digits.
pub const PIN_DIGITS: RangeInclusive<usize> = 4..=8;

/// Wrong PINs in a row allowed before the keypad makes staff wait.
pub const FREE_WRONG_PINS: u32 = 3;

/// How long the PIN keypad waits after `wrong` wrong PINs in a row: nothing for the first
/// three, then 30 s doubling to at most 32 minutes, so guessing even a 4-digit PIN at the kiosk
/// takes days.
pub fn wait_after(wrong: u32) -> i64 {
    if wrong < FREE_WRONG_PINS {
        return 0;
    }
    30_000 << (wrong - FREE_WRONG_PINS).min(6)
}

/// Why a new staff PIN is refused, or None when it may be used.
pub fn pin_problem(pin: &str, default_pin: &str) -> Option<StaticText> {
    let digits: Vec<u32> = pin.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != pin.chars().count() || !PIN_DIGITS.contains(&digits.len()) {
        return Some(StaticText::new(
            "PIN 须为 4–8 位数字",
            "the PIN must be 4 to 8 digits",
        ));
    }
    let same = digits.windows(2).all(|w| w[0] == w[1]);
    let run = digits.windows(2).all(|w| w[1] == (w[0] + 1) % 10)
        || digits.windows(2).all(|w| w[0] == (w[1] + 1) % 10);
    if same || run || pin == default_pin {
        return Some(StaticText::new(
            "PIN 太容易猜到，请换一个",
            "that PIN is too easy to guess; choose another",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pins_make_the_keypad_wait_longer_each_time() {
        assert_eq!((wait_after(1), wait_after(2)), (0, 0));
        assert_eq!(wait_after(3), 30_000);
        assert_eq!(wait_after(4), 60_000);
        assert_eq!(wait_after(9), 32 * 60_000);
        assert_eq!(wait_after(50), 32 * 60_000);
    }

    #[test]
    fn guessable_pins_are_refused() {
        for bad in [
            "123",
            "123456789",
            "12a4",
            "0000",
            "1234",
            "987654",
            "123456",
        ] {
            assert!(pin_problem(bad, "123456").is_some(), "{bad}");
        }
        for good in ["2580", "731946", "10293847"] {
            assert_eq!(pin_problem(good, "123456"), None, "{good}");
        }
    }
}
