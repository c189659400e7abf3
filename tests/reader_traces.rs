//! The published frames (hardware/reader/traces) replayed through the codec, and the card
//! fixtures: one card of each of the four layouts.

use capture_kiosk::reader::card::{CardType, IdCard};
use capture_kiosk::reader::frame::{Command, FrameDecoder};
use capture_kiosk::reader::simulator::CardDeck;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn published_frames_replay() {
    let trace = include_str!("../hardware/reader/traces/published-frames.txt");
    let mut seen = 0;
    for line in trace
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut parts = line.split_whitespace();
        let dir = parts.next().unwrap();
        let what = parts.next().unwrap();
        let bytes = hex(&parts.collect::<Vec<_>>().join(" "));
        let mut d = FrameDecoder::default();
        d.push(&bytes);
        let frame = d
            .next_frame()
            .unwrap_or_else(|| panic!("{what}: incomplete"))
            .unwrap();
        if dir == ">" {
            let cmd = Command::from_code(frame.payload[0], frame.payload[1], &frame.payload[2..])
                .unwrap();
            assert_eq!(cmd.encode(), bytes, "{what}");
        } else {
            assert_eq!(frame.status(), Some(0x9F), "{what}");
        }
        seen += 1;
    }
    assert_eq!(seen, 9);
}

#[test]
fn the_fixture_deck_has_all_four_layouts_and_they_round_trip() {
    let deck = CardDeck::from_toml(include_str!("../hardware/reader/demo-cards.toml")).unwrap();
    let kinds: Vec<CardType> = deck.cards.iter().map(|c| c.card_type).collect();
    for k in [
        CardType::Resident,
        CardType::HkMacaoTaiwanPermit,
        CardType::ForeignPermanent2017,
        CardType::ForeignPermanent2023,
    ] {
        assert!(kinds.contains(&k), "{k:?}");
    }
    for card in &deck.cards {
        let bytes = card.encode().unwrap();
        let flag = char::from(bytes[248]);
        let expected = match card.card_type {
            CardType::Resident => ' ',
            CardType::HkMacaoTaiwanPermit => 'J',
            CardType::ForeignPermanent2017 => 'I',
            CardType::ForeignPermanent2023 => 'Y',
        };
        assert_eq!(flag, expected);
        assert_eq!(&IdCard::parse(&bytes).unwrap(), card);
        assert!(card.id_number_valid(), "{}", card.id_number);
    }
}
