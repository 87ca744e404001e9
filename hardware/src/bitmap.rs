//! One-bit images in printer dots: raster receipt lines, QR codes, the emulator's paper.

/// A black-and-white image, `true` = black dot, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: usize,
    height: usize,
    dots: Vec<bool>,
}

impl Bitmap {
    /// A white image.
    pub fn new(width: usize, height: usize) -> Bitmap {
        Bitmap {
            width,
            height,
            dots: vec![false; width * height],
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// Makes the image `height` rows tall: new rows are white, rows beyond it are cut off.
    pub fn set_height(&mut self, height: usize) {
        self.dots.resize(self.width * height, false);
        self.height = height;
    }

    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }

    /// Sets a dot; dots outside the image are ignored.
    pub fn set(&mut self, x: usize, y: usize, black: bool) {
        if x < self.width && y < self.height {
            self.dots[y * self.width + x] = black;
        }
    }

    /// Blackens `other`'s black dots at offset (`x`, `y`); what falls outside is cut off.
    pub fn draw(&mut self, other: &Bitmap, x: usize, y: usize) {
        for oy in 0..other.height {
            for ox in 0..other.width {
                if other.dots[oy * other.width + ox] {
                    self.set(x + ox, y + oy, true);
                }
            }
        }
    }

    /// The same image on a canvas `width` dots wide, placed left, centred or right.
    pub fn placed(&self, width: usize, align: crate::escpos::Align) -> Bitmap {
        let free = width.saturating_sub(self.width);
        let x = match align {
            crate::escpos::Align::Left => 0,
            crate::escpos::Align::Center => free / 2,
            crate::escpos::Align::Right => free,
        };
        let mut out = Bitmap::new(width.max(self.width), self.height);
        out.draw(self, x, 0);
        out
    }

    /// Grey levels (0 black, 255 white), row-major, for PNG files and the QR decoder.
    pub fn to_gray(&self) -> Vec<u8> {
        self.dots
            .iter()
            .map(|&black| if black { 0 } else { 255 })
            .collect()
    }

    /// Encodes as PNG (8-bit grayscale).
    pub fn to_png(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        let written = image::ImageEncoder::write_image(
            encoder,
            &self.to_gray(),
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::L8,
        );
        // Writing a well-formed 8-bit image into memory cannot fail.
        assert!(
            written.is_ok(),
            "PNG encoding into memory failed: {written:?}"
        );
        bytes
    }
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitmap({}×{})", self.width, self.height)
    }
}
