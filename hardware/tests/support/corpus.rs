//! Camera-like QR frames for the decoder test, the benchmark and the comparison with zxing-cpp.
//!
//! Every frame is a pure function of `(seed, index)`: a voucher-like payload ("LM1:" and
//! base45 characters, QR version ≤ 10, ECC M) printed on a white card, turned by any angle,
//! tilted up to 20° in perspective, dropped on a cluttered background, lit unevenly, squeezed
//! in contrast, blurred, given sensor noise and, for most frames, JPEG artefacts.
//!
//! This file is shared with `examples/` and `benches/` through `#[path]`, so it has no
//! dependency beyond the hardware crate's own.

use image::GrayImage;
use qrcode::{Color, EcLevel, QrCode};

/// The base45 alphabet (RFC 9285); every character is in the QR alphanumeric mode.
const BASE45_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const PAYLOAD_CHARS_MIN: usize = 250;
const PAYLOAD_CHARS_MAX: usize = 300;
const QR_VERSION_MAX: i16 = 10;
const QUIET_ZONE_MODULES: f64 = 4.0;
/// White card around the quiet zone, as a voucher printed on paper.
const CARD_MARGIN_MODULES: f64 = 3.0;
const TILT_DEGREES_MAX: f64 = 20.0;
const SUPERSAMPLES_PER_AXIS: usize = 3;

/// SplitMix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + unit * (high - low)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.range(0.0, 1.0) < probability
    }

    fn gaussian(&mut self) -> f64 {
        let u1 = self.range(f64::EPSILON, 1.0);
        let u2 = self.range(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// One generated frame and what it must decode to.
pub struct CorpusFrame {
    /// File name without directory, e.g. `frame-0007-1280x720.jpg`.
    pub name: String,
    pub payload: String,
    /// The frame as the camera pipeline sees it (after JPEG round trip when `encoded` is JPEG).
    pub frame: GrayImage,
    /// The file bytes: PNG or JPEG.
    pub encoded: Vec<u8>,
    /// Human-readable list of the distortions, for the manifest.
    pub recipe: String,
}

pub fn payload(rng: &mut Rng) -> String {
    let len = PAYLOAD_CHARS_MIN + rng.below(PAYLOAD_CHARS_MAX - PAYLOAD_CHARS_MIN + 1) - 4;
    let mut text = String::from("LM1:");
    for _ in 0..len {
        text.push(BASE45_ALPHABET[rng.below(BASE45_ALPHABET.len())] as char);
    }
    text
}

/// The frame number `index` of the corpus `seed`.
pub fn frame(seed: u64, index: u32) -> CorpusFrame {
    let mut rng = Rng::new(seed ^ (u64::from(index).wrapping_mul(0xA24B_AED4_963E_E407)));
    let payload = payload(&mut rng);
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .expect("a 300-character alphanumeric payload fits a QR code");
    let version = match code.version() {
        qrcode::Version::Normal(v) => v,
        qrcode::Version::Micro(v) => v,
    };
    assert!(
        version <= QR_VERSION_MAX,
        "voucher QR must be version ≤ 10, got {version}"
    );
    let modules = code.width();
    let dark: Vec<bool> = code.to_colors().iter().map(|c| *c == Color::Dark).collect();

    let (width, height) = if index.is_multiple_of(2) {
        (640usize, 480usize)
    } else {
        (1280, 720)
    };
    let mut recipe = format!("{width}x{height} v{version}");
    let mut pixels = background(&mut rng, width, height);

    // Geometry: pixels per module at the card centre, in-plane rotation, tilt.
    let card_modules = modules as f64 + 2.0 * (QUIET_ZONE_MODULES + CARD_MARGIN_MODULES);
    let short_side = height.min(width) as f64;
    let module_px_max = (short_side * 0.9 / card_modules).min(8.0);
    let module_px_min = if width == 640 { 2.4 } else { 3.0 };
    let module_px = rng.range(module_px_min, module_px_max.max(module_px_min + 0.1));
    let rotation = rng.range(0.0, 360.0).to_radians();
    let tilt = rng.range(0.0, TILT_DEGREES_MAX).to_radians();
    let tilt_axis = rng.range(0.0, 180.0).to_radians();
    recipe += &format!(
        " module={module_px:.1}px rot={:.0}° tilt={:.0}°",
        rotation.to_degrees(),
        tilt.to_degrees()
    );
    let focal = width as f64 * 1.1;
    let half_extent = card_modules * module_px * 0.5 * 1.15;
    let cx = rng.range(
        half_extent,
        (width as f64 - half_extent).max(half_extent + 1.0),
    );
    let cy = rng.range(
        half_extent,
        (height as f64 - half_extent).max(half_extent + 1.0),
    );
    let centre_module = modules as f64 / 2.0;
    let homography = plane_to_frame(
        module_px,
        rotation,
        tilt,
        tilt_axis,
        focal,
        centre_module,
        cx,
        cy,
    );
    let inverse = invert(&homography);
    let card_low = -(QUIET_ZONE_MODULES + CARD_MARGIN_MODULES);
    let card_high = modules as f64 + QUIET_ZONE_MODULES + CARD_MARGIN_MODULES;
    let paper = rng.range(225.0, 250.0);
    let ink = rng.range(10.0, 40.0);
    let (x0, y0, x1, y1) = bounding_box(&homography, card_low, card_high, width, height);
    let step = 1.0 / SUPERSAMPLES_PER_AXIS as f64;
    for y in y0..y1 {
        for x in x0..x1 {
            let mut sum = 0.0;
            let mut on_card = 0usize;
            for sy in 0..SUPERSAMPLES_PER_AXIS {
                for sx in 0..SUPERSAMPLES_PER_AXIS {
                    let fx = x as f64 + (sx as f64 + 0.5) * step;
                    let fy = y as f64 + (sy as f64 + 0.5) * step;
                    let (u, v) = apply(&inverse, fx, fy);
                    if u < card_low || u >= card_high || v < card_low || v >= card_high {
                        sum += pixels[y * width + x];
                        continue;
                    }
                    on_card += 1;
                    let (mu, mv) = (u.floor(), v.floor());
                    let is_dark = mu >= 0.0
                        && mv >= 0.0
                        && (mu as usize) < modules
                        && (mv as usize) < modules
                        && dark[mv as usize * modules + mu as usize];
                    sum += if is_dark { ink } else { paper };
                }
            }
            if on_card > 0 {
                pixels[y * width + x] =
                    sum / (SUPERSAMPLES_PER_AXIS * SUPERSAMPLES_PER_AXIS) as f64;
            }
        }
    }

    // Light: a broad spot and a linear fall-off, multiplied in.
    let spot_x = rng.range(0.0, width as f64);
    let spot_y = rng.range(0.0, height as f64);
    let spot_strength = rng.range(0.0, 0.55);
    let gradient_angle = rng.range(0.0, std::f64::consts::TAU);
    let gradient_strength = rng.range(0.0, 0.5);
    let diagonal = ((width * width + height * height) as f64).sqrt();
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (x as f64 - spot_x, y as f64 - spot_y);
            let spot = 1.0 - spot_strength * ((dx * dx + dy * dy).sqrt() / diagonal).min(1.0);
            let along =
                (x as f64 * gradient_angle.cos() + y as f64 * gradient_angle.sin()) / diagonal;
            let gradient = 1.0 - gradient_strength * (along * 0.5 + 0.5).clamp(0.0, 1.0);
            pixels[y * width + x] *= spot * gradient;
        }
    }
    recipe += &format!(" light={spot_strength:.2}/{gradient_strength:.2}");

    // Contrast: squeeze the range, sometimes hard.
    let (low, high) = if rng.chance(0.3) {
        let low = rng.range(60.0, 110.0);
        (low, low + rng.range(45.0, 80.0))
    } else {
        let low = rng.range(0.0, 50.0);
        (low, rng.range(170.0, 255.0))
    };
    for p in &mut pixels {
        *p = low + *p / 255.0 * (high - low);
    }
    recipe += &format!(" contrast={:.0}", high - low);

    let sigma = if rng.chance(0.7) {
        rng.range(0.4, 1.6)
    } else {
        0.0
    };
    if sigma > 0.0 {
        gaussian_blur(&mut pixels, width, height, sigma);
        recipe += &format!(" blur={sigma:.1}");
    }
    let noise = rng.range(1.0, 6.0);
    for p in &mut pixels {
        *p += rng.gaussian() * noise;
    }
    recipe += &format!(" noise={noise:.1}");

    let gray = GrayImage::from_raw(
        width as u32,
        height as u32,
        pixels
            .iter()
            .map(|p| p.round().clamp(0.0, 255.0) as u8)
            .collect(),
    )
    .expect("buffer has width × height pixels");

    let (frame, encoded, extension) = if rng.chance(0.7) {
        let quality = rng.range(35.0, 90.0) as u8;
        recipe += &format!(" jpeg={quality}");
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
            .encode_image(&gray)
            .expect("JPEG encoding into memory");
        let decoded = image::load_from_memory(&bytes)
            .expect("our own JPEG decodes")
            .to_luma8();
        (decoded, bytes, "jpg")
    } else {
        let mut bytes = Vec::new();
        gray.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("PNG encoding into memory");
        (gray, bytes, "png")
    };
    CorpusFrame {
        name: format!("frame-{index:04}-{width}x{height}.{extension}"),
        payload,
        frame,
        encoded,
        recipe,
    }
}

/// A desk: a gradient, rectangles, lines and small text-like blocks that look a bit like
/// finder patterns, so the detector has something to reject.
fn background(rng: &mut Rng, width: usize, height: usize) -> Vec<f64> {
    let base = rng.range(60.0, 190.0);
    let slope_x = rng.range(-0.08, 0.08);
    let slope_y = rng.range(-0.08, 0.08);
    let mut pixels: Vec<f64> = (0..width * height)
        .map(|i| {
            let (x, y) = ((i % width) as f64, (i / width) as f64);
            (base + slope_x * x + slope_y * y).clamp(0.0, 255.0)
        })
        .collect();
    let shapes = 12 + rng.below(20);
    for _ in 0..shapes {
        let w = rng.range(8.0, width as f64 / 3.0) as usize;
        let h = rng.range(8.0, height as f64 / 3.0) as usize;
        let x0 = rng.below(width.saturating_sub(w).max(1));
        let y0 = rng.below(height.saturating_sub(h).max(1));
        let shade = rng.range(0.0, 255.0);
        let kind = rng.below(3);
        for y in y0..(y0 + h).min(height) {
            for x in x0..(x0 + w).min(width) {
                let paint = match kind {
                    0 => true,
                    // Stripes, like a 1D barcode or ruled paper.
                    1 => (x / 3) % 2 == 0,
                    // Text-like blocks.
                    _ => ((x / 4) * 7 + (y / 6) * 13) % 5 < 2,
                };
                if paint {
                    pixels[y * width + x] = shade;
                }
            }
        }
    }
    pixels
}

type Matrix = [[f64; 3]; 3];

/// Homography from module coordinates on the card to frame pixels: a pinhole camera looking
/// at the card, which is turned by `rotation` in its plane and tilted by `tilt` around an axis
/// at angle `tilt_axis`.
#[allow(clippy::too_many_arguments)]
fn plane_to_frame(
    module_px: f64,
    rotation: f64,
    tilt: f64,
    tilt_axis: f64,
    focal: f64,
    centre_module: f64,
    cx: f64,
    cy: f64,
) -> Matrix {
    let (rc, rs) = (rotation.cos(), rotation.sin());
    let in_plane = [[rc, -rs, 0.0], [rs, rc, 0.0], [0.0, 0.0, 1.0]];
    // Rodrigues rotation around the unit axis (ax, ay, 0).
    let (ax, ay) = (tilt_axis.cos(), tilt_axis.sin());
    let (c, s) = (tilt.cos(), tilt.sin());
    let t = 1.0 - c;
    let tilted = [
        [c + ax * ax * t, ax * ay * t, ay * s],
        [ax * ay * t, c + ay * ay * t, -ax * s],
        [-ay * s, ax * s, c],
    ];
    let r = multiply(&tilted, &in_plane);
    // Card at distance `focal`, so one module is `module_px` pixels at the centre.
    let z = focal;
    // Plane point (u, v) → 3D = r · ((u − c)·m, (v − c)·m, 0) + (0, 0, z), then project.
    let m = module_px;
    let camera = [
        [
            r[0][0] * m,
            r[0][1] * m,
            -(r[0][0] + r[0][1]) * m * centre_module,
        ],
        [
            r[1][0] * m,
            r[1][1] * m,
            -(r[1][0] + r[1][1]) * m * centre_module,
        ],
        [
            r[2][0] * m,
            r[2][1] * m,
            -(r[2][0] + r[2][1]) * m * centre_module + z,
        ],
    ];
    let intrinsics = [[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]];
    multiply(&intrinsics, &camera)
}

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn invert(m: &Matrix) -> Matrix {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let d = 1.0 / det;
    [
        [
            (m[1][1] * m[2][2] - m[1][2] * m[2][1]) * d,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * d,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * d,
        ],
        [
            (m[1][2] * m[2][0] - m[1][0] * m[2][2]) * d,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * d,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * d,
        ],
        [
            (m[1][0] * m[2][1] - m[1][1] * m[2][0]) * d,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * d,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * d,
        ],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    let w = m[2][0] * x + m[2][1] * y + m[2][2];
    (
        (m[0][0] * x + m[0][1] * y + m[0][2]) / w,
        (m[1][0] * x + m[1][1] * y + m[1][2]) / w,
    )
}

fn bounding_box(
    h: &Matrix,
    low: f64,
    high: f64,
    width: usize,
    height: usize,
) -> (usize, usize, usize, usize) {
    let corners = [(low, low), (high, low), (low, high), (high, high)].map(|(u, v)| apply(h, u, v));
    let min_x = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::MAX, f64::min)
        .floor()
        .max(0.0) as usize;
    let min_y = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::MAX, f64::min)
        .floor()
        .max(0.0) as usize;
    let max_x = corners
        .iter()
        .map(|c| c.0)
        .fold(f64::MIN, f64::max)
        .ceil()
        .clamp(0.0, width as f64) as usize;
    let max_y = corners
        .iter()
        .map(|c| c.1)
        .fold(f64::MIN, f64::max)
        .ceil()
        .clamp(0.0, height as f64) as usize;
    (min_x, min_y, max_x, max_y)
}

fn gaussian_blur(pixels: &mut [f64], width: usize, height: usize, sigma: f64) {
    let radius = (sigma * 3.0).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut scratch = vec![0.0; pixels.len()];
    for y in 0..height {
        for x in 0..width {
            let mut acc = 0.0;
            for (k, weight) in kernel.iter().enumerate() {
                let sx = (x as isize + k as isize - radius).clamp(0, width as isize - 1) as usize;
                acc += pixels[y * width + sx] * weight;
            }
            scratch[y * width + x] = acc;
        }
    }
    for y in 0..height {
        for x in 0..width {
            let mut acc = 0.0;
            for (k, weight) in kernel.iter().enumerate() {
                let sy = (y as isize + k as isize - radius).clamp(0, height as isize - 1) as usize;
                acc += scratch[sy * width + x] * weight;
            }
            pixels[y * width + x] = acc;
        }
    }
}
