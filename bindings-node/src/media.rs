//! Media: upload, look-up, download (360dialog host rule), delete.

use napi::Env;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi_derive::napi;

use crate::client::JsClient;
use crate::errors::spawn;

/// The answer of a media look-up. The `url` is valid for 5 minutes.
#[napi(object)]
pub struct MediaInfo {
    /// Download URL (use `downloadMedia` / `downloadMediaUrl`, which apply the host rule).
    pub url: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size in bytes, when known.
    pub file_size: Option<f64>,
    /// The media id.
    pub id: String,
}

#[napi]
impl JsClient {
    /// Upload a file; resolves to the media id.
    #[napi]
    pub fn upload_media<'env>(
        &self,
        env: &'env Env,
        data: Buffer,
        mime: String,
        filename: String,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.inner.clone();
        let bytes = data.to_vec();
        spawn(
            env,
            async move { c.media().upload(bytes, &mime, &filename).await },
            |_, id| Ok(id),
        )
    }

    /// Look up a media id: URL, MIME type, hash, size.
    #[napi]
    pub fn media_info<'env>(
        &self,
        env: &'env Env,
        media_id: String,
    ) -> napi::Result<PromiseRaw<'env, MediaInfo>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().info(&media_id).await },
            |_, i| {
                Ok(MediaInfo {
                    url: i.url,
                    mime_type: i.mime_type,
                    sha256: i.sha256,
                    file_size: i.file_size.map(|n| n as f64),
                    id: i.id,
                })
            },
        )
    }

    /// Look up a media id and download the file.
    #[napi]
    pub fn download_media<'env>(
        &self,
        env: &'env Env,
        media_id: String,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().download(&media_id).await },
            |_, b| Ok(Buffer::from(b.to_vec())),
        )
    }

    /// Download a media URL (from `mediaInfo` or an inbound webhook) through
    /// the 360dialog host.
    #[napi]
    pub fn download_media_url<'env>(
        &self,
        env: &'env Env,
        url: String,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().download_url(&url).await },
            |_, b| Ok(Buffer::from(b.to_vec())),
        )
    }

    /// Delete an uploaded media.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_media<'env>(
        &self,
        env: &'env Env,
        media_id: String,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().delete(&media_id).await },
            |_, v| Ok(v),
        )
    }
}
