//! Media messages: image, audio, video, document and sticker (docs/360dialog-api.md §4.2),
//! and the media object shared with interactive headers and template
//! parameters.

use serde::{Deserialize, Serialize};

use super::common::{check_http_url, check_len, check_non_empty, join, optional_setters};
use crate::{Error, Result};

/// Maximum caption length (image, video, document), in characters.
pub const MAX_CAPTION: usize = 1024;

/// A media object: exactly one of a media `id` (from an upload) or a public
/// `link`, plus an optional caption and file name where the type allows them.
///
/// ```
/// use wa360::messages::Media;
/// let m = Media::id("1029384756109999").caption("Your receipt");
/// assert_eq!(m.caption.as_deref(), Some("Your receipt"));
/// ```
///
/// The neutral form and the wire form are the same object
/// (`{"id"|"link", "caption"?, "filename"?}`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Media {
    /// Media id from an upload (digits only). Preferred over `link`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Public `http(s)` URL of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Caption (image, video, document only), at most 1024 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name shown to the user (document only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

impl Media {
    /// Media by uploaded id.
    pub fn id(id: impl Into<String>) -> Self {
        Media {
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// Media by public link (`link` is "not recommended" by 360dialog; prefer ids).
    pub fn link(url: impl Into<String>) -> Self {
        Media {
            link: Some(url.into()),
            ..Default::default()
        }
    }

    optional_setters! {
        /// Set the caption (image, video and document only).
        caption => caption;

        /// Set the file name (document only).
        filename => filename;
    }

    /// Check the media object at `path`. `caption_not_allowed` /
    /// `filename_not_allowed` say where caption / filename are not allowed
    /// (`None` = allowed). The wire object is the `Media` itself.
    pub(crate) fn validate(
        &self,
        path: &str,
        caption_not_allowed: Option<&str>,
        filename_not_allowed: Option<&str>,
    ) -> Result<()> {
        match (&self.id, &self.link) {
            (Some(id), None) => {
                let f = join(path, "id");
                check_non_empty(&f, id)?;
                if !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::invalid(f, "must be a media id (digits only)"));
                }
            }
            (None, Some(link)) => check_http_url(&join(path, "link"), link)?,
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    path,
                    "must have exactly one of `id` and `link` (got both)",
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    path,
                    "must have exactly one of `id` and `link` (got neither)",
                ));
            }
        }
        if let Some(c) = &self.caption {
            let f = join(path, "caption");
            if let Some(ctx) = caption_not_allowed {
                return Err(Error::invalid(f, format!("is not allowed {ctx}")));
            }
            check_len(&f, c, 1, MAX_CAPTION)?;
        }
        if let Some(name) = &self.filename {
            let f = join(path, "filename");
            if let Some(ctx) = filename_not_allowed {
                return Err(Error::invalid(f, format!("is not allowed {ctx}")));
            }
            check_non_empty(&f, name)?;
        }
        Ok(())
    }
}

/// The five media message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `image` (JPEG, PNG; 5 MB).
    Image,
    /// `audio` (AAC, AMR, MP3, MP4 audio, OGG/Opus; 16 MB), no caption.
    Audio,
    /// `video` (MP4, 3GPP; 16 MB).
    Video,
    /// `document` (PDF, Office, text; 100 MB), caption and file name.
    Document,
    /// `sticker` (WebP), no caption.
    Sticker,
}

impl MediaKind {
    /// The wire name (`"image"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// Parse a wire name.
    pub fn from_name(s: &str) -> Option<MediaKind> {
        Some(match s {
            "image" => MediaKind::Image,
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => return None,
        })
    }

    /// Check a media message of this kind (the wire object is the `Media`).
    pub(crate) fn validate(self, media: &Media) -> Result<()> {
        let caption = match self {
            MediaKind::Audio => Some("for audio messages"),
            MediaKind::Sticker => Some("for sticker messages"),
            _ => None,
        };
        let filename = match self {
            MediaKind::Document => None,
            MediaKind::Image => Some("for image messages (document only)"),
            MediaKind::Audio => Some("for audio messages (document only)"),
            MediaKind::Video => Some("for video messages (document only)"),
            MediaKind::Sticker => Some("for sticker messages (document only)"),
        };
        media.validate(self.as_str(), caption, filename)
    }

    #[cfg(test)]
    fn body(self, media: &Media) -> Result<serde_json::Value> {
        self.validate(media)?;
        Ok(serde_json::to_value(media).unwrap_or_default())
    }
}

use super::read::map_only;
map_only!(ser Media);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exactly_one_source() {
        let both = Media {
            id: Some("1".into()),
            link: Some("https://x.example/a.jpg".into()),
            ..Default::default()
        };
        let e = MediaKind::Image.body(&both).unwrap_err();
        assert_eq!(e.field(), Some("image"));
        assert!(e.to_string().contains("got both"));
        let e = MediaKind::Image.body(&Media::default()).unwrap_err();
        assert!(e.to_string().contains("got neither"));
    }

    #[test]
    fn id_digits_and_link_scheme() {
        let e = MediaKind::Video.body(&Media::id("abc")).unwrap_err();
        assert_eq!(e.field(), Some("video.id"));
        let e = MediaKind::Video
            .body(&Media::link("ftp://x.example/a.mp4"))
            .unwrap_err();
        assert_eq!(e.field(), Some("video.link"));
        let e = MediaKind::Video.body(&Media::link("/a.mp4")).unwrap_err();
        assert_eq!(e.field(), Some("video.link"));
        assert_eq!(
            MediaKind::Video
                .body(&Media::link("http://x.example/a.mp4"))
                .unwrap(),
            json!({"link": "http://x.example/a.mp4"})
        );
    }

    #[test]
    fn caption_limits_and_where_allowed() {
        let ok = Media::id("1").caption("é".repeat(MAX_CAPTION));
        assert!(MediaKind::Image.body(&ok).is_ok());
        let long = Media::id("1").caption("é".repeat(MAX_CAPTION + 1));
        let e = MediaKind::Document.body(&long).unwrap_err();
        assert_eq!(e.field(), Some("document.caption"));
        assert!(e.to_string().contains("got 1025"));
        for kind in [MediaKind::Audio, MediaKind::Sticker] {
            let e = kind.body(&Media::id("1").caption("hi")).unwrap_err();
            assert_eq!(e.field().unwrap(), format!("{}.caption", kind.as_str()));
        }
        let e = MediaKind::Image
            .body(&Media::id("1").filename("a.pdf"))
            .unwrap_err();
        assert_eq!(e.field(), Some("image.filename"));
        assert_eq!(
            MediaKind::Document
                .body(&Media::id("1").caption("c").filename("a.pdf"))
                .unwrap(),
            json!({"id": "1", "caption": "c", "filename": "a.pdf"})
        );
    }
}
