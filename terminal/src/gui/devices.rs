//! Scanners and the camera, each on its own thread, feeding the controller
//! through the event loop. They are listened to on every screen: a code
//! scanned anywhere goes to the controller, which decides what it means for
//! the screen the operator is on.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lastmile_hardware::camera::{Camera, FrameSource, list_cameras};
use lastmile_hardware::frame::GrayFrame;
use lastmile_hardware::qr::{FrameDecoder, QrDecoder};
use lastmile_hardware::scanner::{Framing, ScanEvent, SerialScanner, SerialScannerConfig};
use slint::{ComponentHandle, SharedPixelBuffer};

use super::controller::{Controller, Localized};
use super::{AppWindow, Screen};
use crate::i18n::Text;

/// Baud rate for serial scanners (USB CDC scanners ignore it).
pub const SCANNER_BAUD_DEFAULT: u32 = 9_600;
/// Camera capture size asked for (the decoder and the preview both use it).
pub const CAMERA_WIDTH: u32 = 640;
pub const CAMERA_HEIGHT: u32 = 480;
/// Frames per second sent to the preview; more costs CPU for no benefit on a 7" screen.
pub const PREVIEW_FPS_MAX: u64 = 12;
/// The same code from the camera is taken once within this window.
pub const CAMERA_REPEAT_MS_MIN: u64 = 3_000;

/// The device threads; dropping this stops them.
pub struct Devices {
    _serial: Option<SerialScanner>,
    camera_stop: Arc<AtomicBool>,
    camera: Option<JoinHandle<()>>,
    events: Option<JoinHandle<()>>,
}

impl Drop for Devices {
    fn drop(&mut self) {
        self.camera_stop.store(true, Ordering::SeqCst);
        if let Some(camera) = self.camera.take() {
            let _ = camera.join();
        }
        // The events thread ends when the serial scanner (its last sender) is gone.
        self._serial = None;
        self.events.take();
    }
}

/// Starts the serial scanner (when a port is configured) and the camera (when one exists).
pub fn start(
    window: &AppWindow,
    controller: &Rc<Controller>,
    scanner_port: &str,
    camera: Option<u32>,
) -> Devices {
    let (events_tx, events_rx) = mpsc::channel::<ScanEvent>();
    let serial = if scanner_port.is_empty() {
        controller.set_device_status(Some(Localized::text(Text::KeyboardScanners, &[])), None);
        None
    } else {
        let config = SerialScannerConfig {
            port: scanner_port.to_owned(),
            baud_rate: SCANNER_BAUD_DEFAULT,
            framing: Framing::default(),
        };
        match SerialScanner::spawn(config, events_tx.clone()) {
            Ok(scanner) => Some(scanner),
            Err(error) => {
                eprintln!("scanner {scanner_port}: {error}");
                let problem = Localized::text(Text::ScannerProblem, &[("port", scanner_port)]);
                controller.set_device_status(Some(problem), None);
                None
            }
        }
    };
    drop(events_tx);
    let weak = window.as_weak();
    let events = std::thread::Builder::new()
        .name("scan-events".into())
        .spawn(move || {
            for event in events_rx {
                let weak = weak.clone();
                let _ = slint::invoke_from_event_loop(move || {
                    let Some(window) = weak.upgrade() else { return };
                    let _ = window;
                    with_scan_event(event);
                });
            }
        })
        .ok();

    let camera_stop = Arc::new(AtomicBool::new(false));
    let camera = start_camera(window, controller, camera, camera_stop.clone());
    Devices {
        _serial: serial,
        camera_stop,
        camera,
        events,
    }
}

fn with_scan_event(event: ScanEvent) {
    super::controller::with_current(|c| match event {
        ScanEvent::Code { text, .. } => c.scanned(text),
        ScanEvent::Rejected { reason, .. } => {
            eprintln!("scanner: code not taken: {reason}");
            c.toast(Localized::text(Text::ScanUnreadable, &[]))
        }
        ScanEvent::Connected { port } => c.set_device_status(
            Some(Localized::text(Text::ScannerConnected, &[("port", &port)])),
            None,
        ),
        ScanEvent::Unavailable { port, reason } | ScanEvent::Disconnected { port, reason } => {
            eprintln!("scanner {port}: {reason}");
            c.set_device_status(
                Some(Localized::text(Text::ScannerProblem, &[("port", &port)])),
                None,
            )
        }
    });
}

/// The camera loop: frames to the QR decoder (which drops frames while busy)
/// and, while the scan screen is showing, a preview to the window.
fn start_camera(
    window: &AppWindow,
    controller: &Rc<Controller>,
    index: Option<u32>,
    stop: Arc<AtomicBool>,
) -> Option<JoinHandle<()>> {
    let cameras = list_cameras().unwrap_or_default();
    let Some(info) = cameras
        .iter()
        .find(|c| index.is_none_or(|i| c.index == i))
        .cloned()
    else {
        controller.set_device_status(None, Some(Localized::text(Text::NoCamera, &[])));
        return None;
    };
    controller.set_device_status(None, Some(Localized::verbatim(&info.name)));
    let weak = window.as_weak();
    let scanning = Arc::new(AtomicBool::new(true));
    window.set_camera_available(true);
    std::thread::Builder::new()
        .name("camera".into())
        .spawn(move || {
            let Ok(mut camera) = Camera::open(info.index, CAMERA_WIDTH, CAMERA_HEIGHT) else {
                let _ = weak.upgrade_in_event_loop(|w| w.set_camera_available(false));
                return;
            };
            let Ok(decoder) = FrameDecoder::spawn(QrDecoder::default()) else {
                return;
            };
            let preview_every = Duration::from_millis(1000 / PREVIEW_FPS_MAX);
            let mut last_preview = Instant::now() - preview_every;
            let mut last_code: Option<(String, Instant)> = None;
            while !stop.load(Ordering::SeqCst) {
                let frame = match camera.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) | Err(_) => {
                        let _ = weak.upgrade_in_event_loop(|w| w.set_camera_available(false));
                        return;
                    }
                };
                if scanning.load(Ordering::SeqCst) && last_preview.elapsed() >= preview_every {
                    last_preview = Instant::now();
                    let pixels = preview_pixels(&frame);
                    let flag = scanning.clone();
                    let _ = weak.upgrade_in_event_loop(move |w| {
                        flag.store(w.get_screen() == Screen::Scan, Ordering::SeqCst);
                        w.set_camera_frame(slint::Image::from_rgb8(pixels));
                    });
                }
                let _ = decoder.offer(frame);
                if let Some(text) = decoder.try_result().and_then(|r| r.text) {
                    let repeat = last_code.as_ref().is_some_and(|(t, at)| {
                        *t == text && at.elapsed() < Duration::from_millis(CAMERA_REPEAT_MS_MIN)
                    });
                    if !repeat {
                        last_code = Some((text.clone(), Instant::now()));
                        let _ = slint::invoke_from_event_loop(move || {
                            super::controller::with_current(|c| c.scanned(text));
                        });
                    }
                }
            }
        })
        .ok()
}

/// A half-size grey frame as RGB pixels for the preview.
fn preview_pixels(frame: &GrayFrame) -> SharedPixelBuffer<slint::Rgb8Pixel> {
    let small = frame.half();
    let frame = small.as_ref().unwrap_or(frame);
    let mut buffer = SharedPixelBuffer::<slint::Rgb8Pixel>::new(frame.width(), frame.height());
    for (out, &grey) in buffer.make_mut_slice().iter_mut().zip(frame.pixels()) {
        *out = slint::Rgb8Pixel {
            r: grey,
            g: grey,
            b: grey,
        };
    }
    buffer
}

/// `VmRSS` of this process, from `/proc/self/status` (Linux).
pub fn resident_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .map(|v| format!("resident memory {v}"))
}
