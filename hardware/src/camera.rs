//! Frame sources: a V4L2 camera through `nokhwa`, or image files, behind one trait.
//!
//! Everything after capture (grayscale conversion, decoding, frame skipping) is the same for
//! both, so the image-file source tests the camera pipeline on machines without a camera.

use std::collections::VecDeque;
use std::path::PathBuf;

use nokhwa::pixel_format::LumaFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};

use crate::frame::{FrameError, GrayFrame};

/// Frame rate asked of the camera. The decoder skips frames while it works, so a higher rate
/// only makes the preview smoother.
pub const CAMERA_FRAMES_PER_SECOND: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error(
        "no camera found; plug in a USB webcam (it should appear as /dev/video0) or use a serial scanner"
    )]
    NoCamera,
    #[error("camera {index} does not exist; {count} camera(s) found, numbered from 0")]
    NoSuchCamera { index: u32, count: usize },
    #[error("cannot list cameras: {0}; check that the V4L2 driver is loaded")]
    Query(#[source] nokhwa::NokhwaError),
    #[error("cannot open camera {index}: {source}; check that no other program uses it")]
    Open {
        index: u32,
        #[source]
        source: nokhwa::NokhwaError,
    },
    #[error("camera stopped delivering frames: {0}; unplug and plug the camera back in")]
    Capture(#[source] nokhwa::NokhwaError),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Something that produces grayscale frames: a camera, or a list of image files.
pub trait FrameSource {
    /// The next frame, or `None` when the source is exhausted (a camera never is).
    fn next_frame(&mut self) -> Result<Option<GrayFrame>, CameraError>;
}

/// A camera as the operating system lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    pub index: u32,
    pub name: String,
    pub description: String,
}

/// The cameras the operating system knows about (V4L2 devices on Linux). An empty list is not
/// an error.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CameraError> {
    let cameras = nokhwa::query(ApiBackend::Auto).map_err(CameraError::Query)?;
    Ok(cameras
        .into_iter()
        .enumerate()
        .map(|(position, info)| CameraInfo {
            index: match info.index() {
                CameraIndex::Index(index) => *index,
                CameraIndex::String(_) => position as u32,
            },
            name: info.human_name(),
            description: info.description().to_owned(),
        })
        .collect())
}

/// A webcam delivering frames at about the requested resolution.
pub struct Camera {
    inner: nokhwa::Camera,
}

impl Camera {
    /// Opens camera `index` at the resolution closest to `width`×`height`.
    pub fn open(index: u32, width: u32, height: u32) -> Result<Camera, CameraError> {
        let cameras = list_cameras()?;
        if cameras.is_empty() {
            return Err(CameraError::NoCamera);
        }
        if !cameras.iter().any(|camera| camera.index == index) {
            return Err(CameraError::NoSuchCamera {
                index,
                count: cameras.len(),
            });
        }
        let wanted =
            CameraFormat::new_from(width, height, FrameFormat::MJPEG, CAMERA_FRAMES_PER_SECOND);
        let format = RequestedFormat::new::<LumaFormat>(RequestedFormatType::Closest(wanted));
        let open = |source| CameraError::Open { index, source };
        let mut inner = nokhwa::Camera::new(CameraIndex::Index(index), format).map_err(open)?;
        inner.open_stream().map_err(open)?;
        Ok(Camera { inner })
    }
}

impl FrameSource for Camera {
    fn next_frame(&mut self) -> Result<Option<GrayFrame>, CameraError> {
        let buffer = self.inner.frame().map_err(CameraError::Capture)?;
        let image = buffer
            .decode_image::<LumaFormat>()
            .map_err(CameraError::Capture)?;
        Ok(Some(GrayFrame::from_image(image)?))
    }
}

/// Image files (PNG or JPEG) read in order, as if a camera had captured them.
pub struct ImageFiles {
    paths: VecDeque<PathBuf>,
}

impl ImageFiles {
    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> ImageFiles {
        ImageFiles {
            paths: paths.into_iter().collect(),
        }
    }
}

impl FrameSource for ImageFiles {
    fn next_frame(&mut self) -> Result<Option<GrayFrame>, CameraError> {
        match self.paths.pop_front() {
            None => Ok(None),
            Some(path) => Ok(Some(GrayFrame::load(&path)?)),
        }
    }
}
