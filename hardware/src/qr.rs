//! QR decoding: grayscale frame in, text out.
//!
//! The work is done by `rxing` (a Rust port of ZXing, including the zxing-cpp detector). In
//! front of it sit a few passes that each look at the frame differently; the first pass that
//! decodes wins. QR's Reed–Solomon check is what makes a decode trustworthy: a pass either
//! returns the exact text or nothing. The pass list was chosen by measurement, see
//! `scripts/bench-qr-decode.sh`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{Binarizer, BinaryBitmap, DecodeHints, Luma8Source, Reader};

use crate::frame::GrayFrame;

/// Longest text a QR code may hold and we accept (version 40 holds 4,296 alphanumerics).
pub const QR_TEXT_BYTES_MAX: usize = 4296;

/// Which resolution a pass looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Full,
    /// 2×2 averaged: less noise and JPEG ringing, a quarter of the pixels.
    Half,
}

/// Which finder-pattern detector a pass uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// rxing's port of the zxing-cpp detector.
    Cpp,
    /// rxing's port of the original ZXing (Java) detector.
    Java,
}

/// How a pass turns gray into black and white.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// Local threshold per 8×8 block: copes with uneven light.
    Hybrid,
    /// One threshold per row from the histogram: copes with blur and low contrast.
    GlobalHistogram,
    /// Our own: stretch the grey levels between the 1st and 99th percentile to the full range
    /// first, then threshold locally. Rescues dim, low-contrast frames that the local
    /// threshold alone treats as flat.
    StretchedHybrid,
    /// Our own: unsharp mask (3×3), then threshold locally. Restores the edges of small,
    /// blurred modules.
    SharpenedHybrid,
    /// Our own: each pixel against the mean of the square around it, with no minimum
    /// contrast, so faint codes in dim corners still come out black and white.
    LocalMean,
}

/// One attempt at decoding a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    pub scale: Scale,
    pub detector: Detector,
    pub threshold: Threshold,
}

/// A decoded code and the pass that found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub pass: Pass,
}

/// Decodes QR codes in grayscale frames by trying its passes in order.
#[derive(Clone, Debug)]
pub struct QrDecoder {
    passes: Vec<Pass>,
}

impl Default for QrDecoder {
    /// The pass list that decoded the most corpus frames within the time budget.
    fn default() -> QrDecoder {
        QrDecoder::with_passes(DEFAULT_PASSES.to_vec())
    }
}

/// Cheapest first: most frames decode in the first or second pass, so the average cost stays
/// near one pass; the later passes run only on frames the earlier ones could not read.
/// Measured on the generated corpus: see `scripts/bench-qr-decode.sh` and the crate README.
const DEFAULT_PASSES: [Pass; 5] = [
    Pass {
        scale: Scale::Half,
        detector: Detector::Cpp,
        threshold: Threshold::StretchedHybrid,
    },
    Pass {
        scale: Scale::Full,
        detector: Detector::Cpp,
        threshold: Threshold::Hybrid,
    },
    Pass {
        scale: Scale::Full,
        detector: Detector::Cpp,
        threshold: Threshold::StretchedHybrid,
    },
    Pass {
        scale: Scale::Full,
        detector: Detector::Cpp,
        threshold: Threshold::SharpenedHybrid,
    },
    Pass {
        scale: Scale::Full,
        detector: Detector::Cpp,
        threshold: Threshold::LocalMean,
    },
];

impl QrDecoder {
    pub fn with_passes(passes: Vec<Pass>) -> QrDecoder {
        QrDecoder { passes }
    }

    pub fn passes(&self) -> &[Pass] {
        &self.passes
    }

    /// The text of the first QR code found, or `None`.
    pub fn decode(&self, frame: &GrayFrame) -> Option<String> {
        self.decode_detailed(frame).map(|decoded| decoded.text)
    }

    /// Like [`QrDecoder::decode`], also saying which pass found the code.
    pub fn decode_detailed(&self, frame: &GrayFrame) -> Option<Decoded> {
        let mut half: Option<Option<GrayFrame>> = None;
        for pass in &self.passes {
            let image = match pass.scale {
                Scale::Full => frame,
                Scale::Half => match half.get_or_insert_with(|| frame.half()) {
                    Some(image) => image,
                    None => continue,
                },
            };
            if let Some(text) = run_pass(image, pass) {
                return Some(Decoded { text, pass: *pass });
            }
        }
        None
    }
}

fn run_pass(frame: &GrayFrame, pass: &Pass) -> Option<String> {
    let source = Luma8Source::new_with_slice(frame.pixels(), frame.width(), frame.height()).ok()?;
    match pass.threshold {
        Threshold::Hybrid => read(
            BinaryBitmap::new(HybridBinarizer::new(source)),
            pass.detector,
        ),
        Threshold::GlobalHistogram => read(
            BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
            pass.detector,
        ),
        Threshold::StretchedHybrid => {
            let stretched = stretch_contrast(frame)?;
            let source = Luma8Source::new(stretched, frame.width(), frame.height()).ok()?;
            read(
                BinaryBitmap::new(HybridBinarizer::new(source)),
                pass.detector,
            )
        }
        Threshold::SharpenedHybrid => {
            let sharpened = sharpen(frame);
            let source = Luma8Source::new(sharpened, frame.width(), frame.height()).ok()?;
            read(
                BinaryBitmap::new(HybridBinarizer::new(source)),
                pass.detector,
            )
        }
        Threshold::LocalMean => {
            let binary = local_mean_threshold(frame);
            let source = Luma8Source::new(binary, frame.width(), frame.height()).ok()?;
            read(
                BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
                pass.detector,
            )
        }
    }
}

/// Share of pixels allowed to clip at each end of the stretch, in per mille.
const STRETCH_CLIP_PER_MILLE: usize = 10;

/// Maps the 1st..99th percentile of grey levels linearly onto 0..255; `None` when the frame
/// already spans most of the range, because then the pass would only repeat the plain one.
fn stretch_contrast(frame: &GrayFrame) -> Option<Vec<u8>> {
    let pixels = frame.pixels();
    let mut histogram = [0usize; 256];
    for &p in pixels {
        histogram[usize::from(p)] += 1;
    }
    let clip = pixels.len() * STRETCH_CLIP_PER_MILLE / 1000;
    let percentile = |levels: &mut dyn Iterator<Item = usize>| {
        let mut seen = 0;
        for level in levels {
            seen += histogram[level];
            if seen > clip {
                return Some(level);
            }
        }
        None
    };
    let low = percentile(&mut (0..256))?;
    let high = percentile(&mut (0..256).rev())?;
    if high <= low || high - low > 192 {
        return None;
    }
    let span = (high - low) as u32;
    let table: Vec<u8> = (0..256u32)
        .map(|level| (level.saturating_sub(low as u32) * 255 / span).min(255) as u8)
        .collect();
    Some(pixels.iter().map(|&p| table[usize::from(p)]).collect())
}

/// Unsharp-mask strength, in sixteenths: output = pixel + amount × (pixel − 3×3 mean).
const SHARPEN_AMOUNT_SIXTEENTHS: i32 = 24;

fn sharpen(frame: &GrayFrame) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let pixels = frame.pixels();
    let mut out = pixels.to_vec();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let mut sum = 0i32;
            for row in [y - 1, y, y + 1] {
                let base = row * w + x;
                sum += i32::from(pixels[base - 1])
                    + i32::from(pixels[base])
                    + i32::from(pixels[base + 1]);
            }
            let p = i32::from(pixels[y * w + x]);
            let detail = p * 9 - sum;
            out[y * w + x] =
                (p + detail * SHARPEN_AMOUNT_SIXTEENTHS / (16 * 9)).clamp(0, 255) as u8;
        }
    }
    out
}

/// Half the side of the square a pixel is compared with, in pixels. About two modules of a
/// small code: large enough to hold both colours, small enough to follow a light gradient.
const LOCAL_MEAN_RADIUS_PX: usize = 10;
/// A pixel must be this much darker than its neighbourhood to count as black, in grey levels;
/// keeps sensor noise on white paper from turning into speckles.
const LOCAL_MEAN_OFFSET_LEVELS: i64 = 3;

/// Black (0) where a pixel is darker than the mean around it, white (255) elsewhere.
/// Uses a summed-area table, so the cost does not depend on the radius.
fn local_mean_threshold(frame: &GrayFrame) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let pixels = frame.pixels();
    let stride = w + 1;
    let mut integral = vec![0u32; stride * (h + 1)];
    for y in 0..h {
        let mut row_sum = 0u32;
        for x in 0..w {
            row_sum += u32::from(pixels[y * w + x]);
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row_sum;
        }
    }
    let r = LOCAL_MEAN_RADIUS_PX;
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum = i64::from(integral[y1 * stride + x1])
                - i64::from(integral[y0 * stride + x1])
                - i64::from(integral[y1 * stride + x0])
                + i64::from(integral[y0 * stride + x0]);
            let count = ((y1 - y0) * (x1 - x0)) as i64;
            let pixel = i64::from(pixels[y * w + x]);
            if (pixel + LOCAL_MEAN_OFFSET_LEVELS) * count < sum {
                out[y * w + x] = 0;
            }
        }
    }
    out
}

fn read<B: Binarizer>(mut bitmap: BinaryBitmap<B>, detector: Detector) -> Option<String> {
    let hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let result = match detector {
        Detector::Cpp => QrReader.decode_with_hints(&mut bitmap, &hints),
        Detector::Java => QRCodeReader.decode_with_hints(&mut bitmap, &hints),
    }
    .ok()?;
    let text = result.getText();
    (!text.is_empty() && text.len() <= QR_TEXT_BYTES_MAX).then(|| text.to_owned())
}

/// What the background decoder says about one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameResult {
    pub text: Option<String>,
    pub decode_time: Duration,
}

/// Whether [`FrameDecoder::offer`] took the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    Accepted,
    /// A decode is still running; the frame was dropped so the preview never waits.
    SkippedBusy,
}

/// Decodes frames on a worker thread, one at a time, dropping frames that arrive while a
/// decode is running. The camera loop calls `offer` for every frame and `try_result` when it
/// wants news; neither ever blocks.
pub struct FrameDecoder {
    frames: Option<SyncSender<GrayFrame>>,
    results: Receiver<FrameResult>,
    busy: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl FrameDecoder {
    pub fn spawn(decoder: QrDecoder) -> std::io::Result<FrameDecoder> {
        let (frames, frame_rx) = mpsc::sync_channel::<GrayFrame>(1);
        let (result_tx, results) = mpsc::channel();
        let busy = Arc::new(AtomicBool::new(false));
        let worker_busy = Arc::clone(&busy);
        let worker = std::thread::Builder::new()
            .name("qr-decode".into())
            .spawn(move || {
                for frame in frame_rx {
                    let started = Instant::now();
                    let text = decoder.decode(&frame);
                    let result = FrameResult {
                        text,
                        decode_time: started.elapsed(),
                    };
                    // Idle before the result is out: whoever sees the result may offer at once.
                    worker_busy.store(false, Ordering::Release);
                    let sent = result_tx.send(result);
                    if sent.is_err() {
                        break;
                    }
                }
            })?;
        Ok(FrameDecoder {
            frames: Some(frames),
            results,
            busy,
            worker: Some(worker),
        })
    }

    /// Hands a frame to the worker if it is idle; never blocks.
    pub fn offer(&self, frame: GrayFrame) -> Offer {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Offer::SkippedBusy;
        }
        let Some(frames) = &self.frames else {
            return Offer::SkippedBusy;
        };
        match frames.try_send(frame) {
            Ok(()) => Offer::Accepted,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.busy.store(false, Ordering::Release);
                Offer::SkippedBusy
            }
        }
    }

    /// The result of the last accepted frame, if it is ready.
    pub fn try_result(&self) -> Option<FrameResult> {
        self.results.try_recv().ok()
    }

    /// Waits up to `timeout` for the result of the last accepted frame.
    pub fn result_timeout(&self, timeout: Duration) -> Option<FrameResult> {
        self.results.recv_timeout(timeout).ok()
    }
}

impl Drop for FrameDecoder {
    fn drop(&mut self) {
        self.frames = None;
        if let Some(worker) = self.worker.take() {
            // A panic in the decoder thread has already been reported by the panic hook.
            let _ = worker.join();
        }
    }
}
