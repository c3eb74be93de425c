//! Media: upload, look-up, download (360dialog host rule), delete.

use napi::Env;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi_derive::napi;

use crate::client::JsClient;
use crate::errors::{guard, spawn};
use crate::own::{Bytes, Text};
use crate::types::MediaInfo;

#[napi]
impl JsClient {
    /// Upload a file; resolves to the media id.
    #[napi(ts_args_type = "data: Buffer, mimeType: string, filename: string")]
    pub fn upload_media<'env>(
        &self,
        env: &'env Env,
        data: Bytes,
        mime_type: Text,
        filename: Text,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let c = self.inner.clone();
        let bytes = guard(env, || data.named("data"))?;
        spawn(
            env,
            async move {
                let (mime, filename) = (mime_type.named("mimeType")?, filename.named("filename")?);
                c.media().upload(bytes, &mime, &filename).await
            },
            |_, id| Ok(id),
        )
    }

    /// Look up a media id: URL, MIME type, hash, size.
    #[napi(ts_args_type = "mediaId: string")]
    pub fn media_info<'env>(
        &self,
        env: &'env Env,
        media_id: Text,
    ) -> napi::Result<PromiseRaw<'env, MediaInfo>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().info(&media_id.named("mediaId")?).await },
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
    #[napi(ts_args_type = "mediaId: string")]
    pub fn download_media<'env>(
        &self,
        env: &'env Env,
        media_id: Text,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().download(&media_id.named("mediaId")?).await },
            |_, b| Ok(Buffer::from(b.to_vec())),
        )
    }

    /// Download a media URL (from `mediaInfo` or an inbound webhook) through
    /// the 360dialog host.
    #[napi(ts_args_type = "url: string")]
    pub fn download_media_url<'env>(
        &self,
        env: &'env Env,
        url: Text,
    ) -> napi::Result<PromiseRaw<'env, Buffer>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().download_url(&url.named("url")?).await },
            |_, b| Ok(Buffer::from(b.to_vec())),
        )
    }

    /// Delete an uploaded media.
    #[napi(ts_args_type = "mediaId: string", ts_return_type = "Promise<void>")]
    pub fn delete_media<'env>(
        &self,
        env: &'env Env,
        media_id: Text,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let c = self.inner.clone();
        spawn(
            env,
            async move { c.media().delete(&media_id.named("mediaId")?).await },
            |_, v| Ok(v),
        )
    }
}
