//! Typing on the kiosk's keypads: the identification fields (what each field takes, how long it
//! may grow, moving on when a field is complete and back when backspace empties one), staff's
//! batch and a new staff PIN. Pure rules; the kiosk holds the text and forwards the keys.

use super::staff_pin::PIN_DIGITS;
use crate::catalog::{FieldKey, FieldSpec};
use crate::session::identify::FieldState;

/// The identification keypad's fields as typed, and the one being typed into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keypad {
    texts: Vec<String>,
    active: usize,
}

impl Keypad {
    /// Empty fields for a profile's keypad.
    pub fn new(specs: &[FieldSpec]) -> Keypad {
        Keypad {
            texts: vec![String::new(); specs.len()],
            active: 0,
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The text typed into the field that holds `key` (empty when the keypad has none).
    pub fn value(&self, specs: &[FieldSpec], key: FieldKey) -> String {
        specs
            .iter()
            .position(|f| f.key == key)
            .and_then(|i| self.texts.get(i))
            .cloned()
            .unwrap_or_default()
    }

    /// A key: taken if the active field accepts it and has room; a field that becomes complete
    /// hands over to the next.
    pub fn type_key(&mut self, specs: &[FieldSpec], key: &str) {
        let (Some(spec), Some(c)) = (specs.get(self.active), key.chars().next()) else {
            return;
        };
        let Some(text) = self.texts.get_mut(self.active) else {
            return;
        };
        if !spec.accepts(c) || text.chars().count() >= spec.length[1] {
            return;
        }
        text.push(c);
        if spec.state(text) == FieldState::Complete && self.active + 1 < self.texts.len() {
            self.active += 1;
        }
    }

    /// Backspace: the active field's last character, or back to the previous field when it is
    /// empty.
    pub fn backspace(&mut self) {
        if let Some(text) = self.texts.get_mut(self.active) {
            if text.pop().is_none() && self.active > 0 {
                self.active -= 1;
            }
        }
    }

    /// A touch on a field.
    pub fn select(&mut self, i: usize) {
        if i < self.texts.len() {
            self.active = i;
        }
    }
}

/// The longest batch staff may type.
pub const BATCH_CHARS: usize = 20;

/// Staff typing a batch: letters and digits, upper-cased, up to [`BATCH_CHARS`].
pub fn type_batch_key(batch: &mut String, key: &str) {
    if batch.chars().count() < BATCH_CHARS && key.chars().all(|c| c.is_ascii_alphanumeric()) {
        batch.push_str(&key.to_uppercase());
    }
}

/// A PIN being typed (a new one, or to unlock): digits, up to the longest PIN.
pub fn type_pin_key(pin: &mut String, key: &str) -> bool {
    let digit = !key.is_empty() && key.chars().all(|c| c.is_ascii_digit());
    if digit && pin.len() < *PIN_DIGITS.end() {
        pin.push_str(key);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Bilingual, FieldChars};

    fn field(key: FieldKey, chars: FieldChars, length: [usize; 2]) -> FieldSpec {
        FieldSpec {
            key,
            label: Bilingual::new("号", "number"),
            chars,
            length,
        }
    }

    #[test]
    fn a_complete_field_hands_over_and_backspace_comes_back() {
        let specs = [
            field(FieldKey::CandidateKey, FieldChars::Digits, [4, 4]),
            field(FieldKey::Password, FieldChars::Secret, [2, 6]),
        ];
        let mut k = Keypad::new(&specs);
        for key in ["1", "A", "2", "3", "4"] {
            k.type_key(&specs, key);
        }
        assert_eq!(
            k.texts(),
            ["1234", ""],
            "a letter is refused in a digits field"
        );
        assert_eq!(k.active(), 1, "complete: on to the password");
        for key in ["X", "Y", "Z", "1", "2", "3", "4"] {
            k.type_key(&specs, key);
        }
        assert_eq!(
            k.value(&specs, FieldKey::Password),
            "XYZ123",
            "no longer than 6"
        );
        assert_eq!(k.value(&specs, FieldKey::BatchCode), "");
        for _ in 0..6 {
            k.backspace();
        }
        assert_eq!(k.active(), 1);
        k.backspace();
        assert_eq!((k.active(), k.texts()[0].as_str()), (0, "1234"));
        k.select(5);
        assert_eq!(k.active(), 0, "no such field");
    }

    #[test]
    fn batches_and_pins_take_only_what_they_may() {
        let mut batch = String::new();
        for key in ["z", "3", "-", "k"] {
            type_batch_key(&mut batch, key);
        }
        assert_eq!(batch, "Z3K");
        let mut long = "A".repeat(BATCH_CHARS);
        type_batch_key(&mut long, "B");
        assert_eq!(long.len(), BATCH_CHARS);

        let mut pin = String::new();
        assert!(!type_pin_key(&mut pin, "a"));
        for _ in 0..10 {
            type_pin_key(&mut pin, "7");
        }
        assert_eq!(pin.len(), *PIN_DIGITS.end());
    }
}
