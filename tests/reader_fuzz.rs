//! A million random and mutated frames through the codec and the card parser: nothing panics,
//! and every frame the decoder accepts has a checksum that holds.

use capture_kiosk::reader::card::IdCard;
use capture_kiosk::reader::driver::split_text_and_photo;
use capture_kiosk::reader::frame::{checksum, encode_frame, Command, FrameDecoder};
use capture_kiosk::reader::simulator::{CardDeck, ReaderModel};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn a_million_random_and_mutated_frames_never_panic() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/hardware/reader/demo-cards.toml"
    ))
    .unwrap();
    let mut model = ReaderModel::new(CardDeck::from_toml(&text).unwrap(), false);
    model.present(0);
    // real answers to mutate: find, select, and a full text+photo read
    let seeds: Vec<Vec<u8>> = [
        Command::FindCard,
        Command::SelectCard,
        Command::ReadTextAndPhoto,
        Command::SamStatus,
    ]
    .into_iter()
    .map(|c| encode_frame(&model.answer(Some(c))))
    .collect();
    assert_eq!(
        seeds[2].len(),
        1295,
        "a text+photo answer is 1295 bytes on the wire"
    );
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut decoder = FrameDecoder::default();
    let (mut accepted, mut cards) = (0u64, 0u64);
    for i in 0..1_000_000u32 {
        let bytes: Vec<u8> = if i % 2 == 0 {
            // pure noise, sometimes with a preamble in it
            let mut v: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            if rng.below(3) == 0 {
                let at = rng.below(v.len() + 1);
                v.splice(at..at, [0xAA, 0xAA, 0xAA, 0x96, 0x69]);
            }
            v
        } else {
            // a real answer with a few bytes flipped, cut short or duplicated
            let mut v = seeds[if rng.below(10) == 0 {
                2
            } else {
                rng.below(seeds.len())
            }]
            .clone();
            for _ in 0..rng.below(4) {
                let at = rng.below(v.len());
                v[at] ^= 1 << rng.below(8);
            }
            match rng.below(4) {
                0 => v.truncate(rng.below(v.len() + 1)),
                1 => {
                    let extra: Vec<u8> = v[..rng.below(v.len())].to_vec();
                    v.extend(extra);
                }
                _ => {}
            }
            v
        };
        for chunk in bytes.chunks(1 + rng.below(64)) {
            decoder.push(chunk);
            while let Some(frame) = decoder.next_frame() {
                let Ok(frame) = frame else { continue };
                accepted += 1;
                // an accepted frame re-encodes to bytes whose checksum holds
                let wire = encode_frame(&frame.payload);
                assert_eq!(checksum(&wire[5..wire.len() - 1]), wire[wire.len() - 1]);
                if let Ok((text, _photo)) = split_text_and_photo(frame.data()) {
                    if IdCard::parse(text).is_ok() {
                        cards += 1;
                    }
                }
            }
        }
        if i % 1000 == 0 {
            decoder.clear();
        }
    }
    assert!(accepted > 10_000, "{accepted}");
    assert!(cards > 100, "{cards}");
}
