//! The decoder over a generated corpus of camera-like frames, through image files and the
//! same code path as the camera; the frame-skipping worker; the camera's "no camera" error.

#[path = "support/corpus.rs"]
mod corpus;

use std::time::Duration;

use lastmile_hardware::camera::{self, CameraError, FrameSource, ImageFiles};
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::{FrameDecoder, Offer, QrDecoder};

const CORPUS_SEED: u64 = 7;
const CORPUS_FRAMES: u32 = 24;
/// On the benchmark corpus the decoder reads about 97 % of frames; the test allows for a
/// smaller sample.
const DECODED_SHARE_MIN_PERCENT: u32 = 85;

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lastmile-hardware-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn decodes_generated_camera_frames_from_files_and_never_returns_wrong_text() {
    let dir = scratch_dir("qr-corpus");
    let frames: Vec<_> = (0..CORPUS_FRAMES)
        .map(|i| corpus::frame(CORPUS_SEED, i))
        .collect();
    for frame in &frames {
        std::fs::write(dir.join(&frame.name), &frame.encoded).expect("write frame");
    }
    let mut source = ImageFiles::new(frames.iter().map(|f| dir.join(&f.name)));
    let decoder = QrDecoder::default();
    let mut decoded = 0;
    for expected in &frames {
        let frame = source
            .next_frame()
            .expect("frame loads")
            .expect("one frame per file");
        assert_eq!((frame.width(), frame.height()), expected.frame.dimensions());
        if let Some(text) = decoder.decode(&frame) {
            assert_eq!(
                text, expected.payload,
                "wrong text from {} ({})",
                expected.name, expected.recipe
            );
            decoded += 1;
        }
    }
    assert!(source.next_frame().expect("no error at the end").is_none());
    assert!(
        decoded * 100 >= CORPUS_FRAMES * DECODED_SHARE_MIN_PERCENT,
        "decoded only {decoded} of {CORPUS_FRAMES} frames"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn frames_without_a_code_decode_to_nothing() {
    let blank = GrayFrame::new(640, 480, vec![200; 640 * 480]).unwrap();
    assert_eq!(QrDecoder::default().decode(&blank), None);
    let noise: Vec<u8> = (0..640 * 480u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert_eq!(
        QrDecoder::default().decode(&GrayFrame::new(640, 480, noise).unwrap()),
        None
    );
}

#[test]
fn frame_decoder_skips_frames_while_busy_and_reports_results() {
    let sample = corpus::frame(CORPUS_SEED, 1);
    let frame = GrayFrame::from_image(sample.frame).unwrap();
    let decoder = FrameDecoder::spawn(QrDecoder::default()).unwrap();
    assert_eq!(decoder.offer(frame.clone()), Offer::Accepted);
    // The worker is busy with the first frame: the camera loop must not wait.
    assert_eq!(decoder.offer(frame.clone()), Offer::SkippedBusy);
    let result = decoder
        .result_timeout(Duration::from_secs(30))
        .expect("a result");
    assert_eq!(result.text.as_deref(), Some(sample.payload.as_str()));
    assert_eq!(decoder.offer(frame), Offer::Accepted);
    assert!(decoder.result_timeout(Duration::from_secs(30)).is_some());
}

#[test]
fn without_a_camera_opening_one_says_so() {
    let cameras = camera::list_cameras().expect("listing cameras works without any");
    if !cameras.is_empty() {
        eprintln!("skipping: this machine has {} camera(s)", cameras.len());
        return;
    }
    match camera::Camera::open(0, 640, 480) {
        Err(CameraError::NoCamera) => {}
        Err(other) => panic!("expected NoCamera, got {other}"),
        Ok(_) => panic!("opened a camera that was not listed"),
    }
    assert!(CameraError::NoCamera.to_string().contains("no camera"));
}
