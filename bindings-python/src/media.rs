//! Media results for Python (`Client.media_info`, `download_media`); the
//! operations themselves are methods of the clients (`client.rs`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wa360::media::MediaInfo;

/// What `GET /{media_id}` answered. The `url` is valid for 5 minutes.
/// (The core's `MediaInfo`, each field a read-only attribute by pyo3's `get_all`.)
#[pyclass(name = "MediaInfo", module = "wa360._native", frozen, get_all)]
pub struct PyMediaInfo {
    /// The media id.
    id: String,
    /// Download URL (use `Client.download_media`, which applies the 360dialog host rule).
    url: String,
    /// MIME type, e.g. `image/jpeg`.
    mime_type: String,
    /// SHA-256 of the file, hex.
    sha256: String,
    /// Size in bytes, when known.
    file_size: Option<u64>,
}

impl From<MediaInfo> for PyMediaInfo {
    fn from(i: MediaInfo) -> Self {
        // Destructured without `..`: a new core field stops the build here until it is exposed.
        let MediaInfo {
            url,
            mime_type,
            sha256,
            file_size,
            id,
        } = i;
        PyMediaInfo {
            id,
            url,
            mime_type,
            sha256,
            file_size,
        }
    }
}

#[pymethods]
impl PyMediaInfo {
    fn __repr__(&self) -> String {
        format!(
            "MediaInfo(id={:?}, mime_type={:?}, file_size={:?})",
            self.id, self.mime_type, self.file_size
        )
    }
}

/// Bytes crossing into Python as `bytes` (a `Vec<u8>` would become a list).
pub struct BytesOut(pub bytes::Bytes);

crate::client::into_py!(BytesOut => PyBytes, |b, py| Ok(PyBytes::new(py, &b.0)));
