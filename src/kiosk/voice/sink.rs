//! Where the mixer's samples go: the sound card through ALSA (its "default" device, which
//! PipeWire and PulseAudio take over through their ALSA plugins), or a WAV file (tests, and
//! `kiosk` developers listening to a simulated session).

use super::clips::RATE;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("audio device {device}: {source}")]
    Device { device: String, source: alsa::Error },
    #[error("audio device {device} plays {rate} Hz, not the clips' {RATE} Hz")]
    Rate { device: String, rate: u32 },
    #[error("{path}: {source}")]
    Wav { path: PathBuf, source: hound::Error },
}

/// Takes 16 kHz mono samples as they are rendered. A device sink blocks until the device has
/// room, which paces the player thread.
pub trait Sink: Send {
    fn write(&mut self, samples: &[i16]) -> Result<(), SinkError>;
    /// Flushes what is buffered (a WAV file's header).
    fn finish(self: Box<Self>) -> Result<(), SinkError>;
}

/// An ALSA playback device.
pub struct AlsaSink {
    pcm: alsa::PCM,
    device: String,
}

/// How much the device buffers: a new clip is heard at most this late.
const DEVICE_BUFFER_US: u32 = 120_000;

impl AlsaSink {
    pub fn open(device: &str) -> Result<AlsaSink, SinkError> {
        use alsa::pcm::{Access, Format, HwParams};
        let err = |source| SinkError::Device {
            device: device.to_owned(),
            source,
        };
        // a blocking open waits for as long as another process holds the sound card, and the
        // window's start with it: a non-blocking look first answers "busy" at once (the kiosk
        // then runs silent); the device kept is blocking, so writes are paced by it
        drop(alsa::PCM::new(device, alsa::Direction::Playback, true).map_err(err)?);
        let pcm = alsa::PCM::new(device, alsa::Direction::Playback, false).map_err(err)?;
        {
            let hw = HwParams::any(&pcm).map_err(err)?;
            hw.set_channels(1).map_err(err)?;
            hw.set_rate(RATE, alsa::ValueOr::Nearest).map_err(err)?;
            hw.set_format(Format::s16()).map_err(err)?;
            hw.set_access(Access::RWInterleaved).map_err(err)?;
            hw.set_buffer_time_near(DEVICE_BUFFER_US, alsa::ValueOr::Nearest)
                .map_err(err)?;
            pcm.hw_params(&hw).map_err(err)?;
            let rate = hw.get_rate().map_err(err)?;
            if rate != RATE {
                return Err(SinkError::Rate {
                    device: device.to_owned(),
                    rate,
                });
            }
        }
        pcm.prepare().map_err(err)?;
        Ok(AlsaSink {
            pcm,
            device: device.to_owned(),
        })
    }
}

impl Sink for AlsaSink {
    fn write(&mut self, samples: &[i16]) -> Result<(), SinkError> {
        let err = |source| SinkError::Device {
            device: self.device.clone(),
            source,
        };
        let io = self.pcm.io_i16().map_err(err)?;
        let mut done = 0;
        while done < samples.len() {
            match io.writei(&samples[done..]) {
                Ok(n) => done += n,
                // an underrun (the thread was late) or a suspend: recover and go on; anything
                // else (the device unplugged) ends playback
                Err(e) => self.pcm.try_recover(e, true).map_err(err)?,
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        // let the last clip play out
        self.pcm.drain().map_err(|source| SinkError::Device {
            device: self.device.clone(),
            source,
        })
    }
}

/// A 16 kHz mono 16-bit WAV file.
pub struct WavSink {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    path: PathBuf,
}

impl WavSink {
    pub fn create(path: &Path) -> Result<WavSink, SinkError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec).map_err(|source| SinkError::Wav {
            path: path.to_owned(),
            source,
        })?;
        Ok(WavSink {
            writer,
            path: path.to_owned(),
        })
    }
}

impl Sink for WavSink {
    fn write(&mut self, samples: &[i16]) -> Result<(), SinkError> {
        for s in samples {
            self.writer
                .write_sample(*s)
                .map_err(|source| SinkError::Wav {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), SinkError> {
        let path = self.path;
        self.writer
            .finalize()
            .map_err(|source| SinkError::Wav { path, source })
    }
}
