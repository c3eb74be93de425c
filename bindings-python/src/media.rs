//! Media results for Python (`Client.media_info`, `download_media`); the
//! operations themselves are methods of the clients (`client.rs`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wa360::media::MediaInfo;

/// What `GET /{media_id}` answered. The `url` is valid for 5 minutes.
#[pyclass(name = "MediaInfo", module = "wa360._native", frozen)]
pub struct PyMediaInfo {
    pub(crate) inner: MediaInfo,
}

#[pymethods]
impl PyMediaInfo {
    /// The media id.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// Download URL (use `Client.download_media`, which applies the 360dialog host rule).
    #[getter]
    fn url(&self) -> &str {
        &self.inner.url
    }
    /// MIME type, e.g. `image/jpeg`.
    #[getter]
    fn mime_type(&self) -> &str {
        &self.inner.mime_type
    }
    /// SHA-256 of the file, hex.
    #[getter]
    fn sha256(&self) -> &str {
        &self.inner.sha256
    }
    /// Size in bytes, when known.
    #[getter]
    fn file_size(&self) -> Option<u64> {
        self.inner.file_size
    }
    fn __repr__(&self) -> String {
        format!(
            "MediaInfo(id={:?}, mime_type={:?}, file_size={:?})",
            self.inner.id, self.inner.mime_type, self.inner.file_size
        )
    }
}

/// Bytes crossing into Python as `bytes` (a `Vec<u8>` would become a list).
pub struct BytesOut(pub bytes::Bytes);

crate::client::into_py!(BytesOut => PyBytes, |b, py| Ok(PyBytes::new(py, &b.0)));
