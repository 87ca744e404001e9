//! Grayscale frames: what every frame source produces and the QR decoder reads.

use std::path::Path;

/// Largest frame accepted, in pixels (a 4K camera frame). Bigger images are refused rather
/// than decoded slowly.
pub const FRAME_PIXELS_MAX: usize = 3840 * 2160;

/// An 8-bit grayscale image, row-major, one byte per pixel, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct GrayFrame {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {width}×{height} pixels does not match its {len} bytes")]
    SizeMismatch { width: u32, height: u32, len: usize },
    #[error(
        "frame of {width}×{height} pixels is empty or larger than {FRAME_PIXELS_MAX} pixels; use a smaller camera resolution"
    )]
    Dimensions { width: u32, height: u32 },
    #[error("cannot read image {path}: {source}; check that the file exists and is a PNG or JPEG")]
    Load {
        path: String,
        #[source]
        source: image::ImageError,
    },
}

impl GrayFrame {
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Result<GrayFrame, FrameError> {
        let count = width as usize * height as usize;
        if count == 0 || count > FRAME_PIXELS_MAX {
            return Err(FrameError::Dimensions { width, height });
        }
        if pixels.len() != count {
            return Err(FrameError::SizeMismatch {
                width,
                height,
                len: pixels.len(),
            });
        }
        Ok(GrayFrame {
            width,
            height,
            pixels,
        })
    }

    pub fn from_image(image: image::GrayImage) -> Result<GrayFrame, FrameError> {
        let (width, height) = image.dimensions();
        GrayFrame::new(width, height, image.into_raw())
    }

    /// Reads a PNG or JPEG file and converts it to grayscale (ITU-R BT.601 luma).
    pub fn load(path: &Path) -> Result<GrayFrame, FrameError> {
        let image = image::open(path).map_err(|source| FrameError::Load {
            path: path.display().to_string(),
            source,
        })?;
        GrayFrame::from_image(image.to_luma8())
    }

    /// Decodes PNG or JPEG bytes held in memory.
    pub fn decode_image(bytes: &[u8]) -> Result<GrayFrame, FrameError> {
        let image = image::load_from_memory(bytes).map_err(|source| FrameError::Load {
            path: "(memory)".to_owned(),
            source,
        })?;
        GrayFrame::from_image(image.to_luma8())
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Half the size in each direction, each pixel the mean of a 2×2 block. Averaging removes
    /// sensor noise and JPEG ringing, and makes large modules look like the ones the finder
    /// pattern search is tuned for.
    pub fn half(&self) -> Option<GrayFrame> {
        let (w, h) = (self.width as usize / 2, self.height as usize / 2);
        if w == 0 || h == 0 {
            return None;
        }
        let stride = self.width as usize;
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            let top = &self.pixels[2 * y * stride..];
            let bottom = &self.pixels[(2 * y + 1) * stride..];
            for x in 0..w {
                let sum = u16::from(top[2 * x])
                    + u16::from(top[2 * x + 1])
                    + u16::from(bottom[2 * x])
                    + u16::from(bottom[2 * x + 1]);
                pixels.push(((sum + 2) / 4) as u8);
            }
        }
        Some(GrayFrame {
            width: w as u32,
            height: h as u32,
            pixels,
        })
    }
}

impl std::fmt::Debug for GrayFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayFrame({}×{})", self.width, self.height)
    }
}
