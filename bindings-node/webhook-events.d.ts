// TypeScript types of the canonical webhook events returned by `parseWebhook`
// (the canonical form of tests/conformance/webhook_parse/README.md: the same
// JSON in Rust, Python and Node). Wire payloads are repeated verbatim, so
// their fields are typed as documented by Meta with unknown extras allowed.

/** Where an event came from (every event carries these). */
export interface EventOrigin {
  /** The change's `field`, e.g. `messages`. */
  field: string | null
  /** The entry id (WABA id). */
  waba_id: string | null
  phone_number_id: string | null
  display_phone_number: string | null
}

/** The sender as listed in the change's `contacts`. */
export interface EventContact {
  wa_id: string | null
  /** Business-scoped user id (BSUID). */
  user_id: string | null
  name: string | null
}

/** A Meta error object as sent in webhooks. */
export interface WebhookError {
  code?: number
  title?: string
  message?: string
  error_data?: { details?: string }
  href?: string
  [extra: string]: unknown
}

/** Reply / forward context of an inbound message. */
export interface MessageContext {
  from?: string
  id?: string
  forwarded?: boolean
  frequently_forwarded?: boolean
  referred_product?: { catalog_id: string; product_retailer_id: string }
  [extra: string]: unknown
}

interface MessageBase extends EventOrigin {
  kind: 'message'
  /** The message id (`wamid.…`). */
  id: string | null
  /** Sender phone number (wa_id); null for username-only users. */
  from: string | null
  /** Sender BSUID, when sent. */
  from_user_id: string | null
  /** Unix seconds. */
  timestamp: number | null
  contact: EventContact | null
  context: MessageContext | null
  errors: WebhookError[]
}

export interface InboundMedia {
  id: string
  mime_type?: string
  sha256?: string
  caption?: string
  url?: string
  [extra: string]: unknown
}

export interface TextMessage extends MessageBase { type: 'text'; text: { body: string } }
export interface ImageMessage extends MessageBase { type: 'image'; image: InboundMedia }
export interface VideoMessage extends MessageBase { type: 'video'; video: InboundMedia }
export interface AudioMessage extends MessageBase { type: 'audio'; audio: InboundMedia & { voice?: boolean } }
export interface DocumentMessage extends MessageBase { type: 'document'; document: InboundMedia & { filename?: string } }
export interface StickerMessage extends MessageBase { type: 'sticker'; sticker: InboundMedia & { animated?: boolean } }
export interface LocationMessage extends MessageBase {
  type: 'location'
  location: { latitude: number; longitude: number; name?: string; address?: string; url?: string }
}
export interface ContactsMessage extends MessageBase { type: 'contacts'; contacts: Array<Record<string, unknown>> }
export type InteractiveReply =
  | { type: 'button_reply'; button_reply: { id: string; title: string } }
  | { type: 'list_reply'; list_reply: { id: string; title: string; description?: string } }
  | { type: 'nfm_reply'; nfm_reply: { name?: string; body?: string; response_json: string } }
export interface InteractiveMessage extends MessageBase { type: 'interactive'; interactive: InteractiveReply }
export interface ButtonMessage extends MessageBase { type: 'button'; button: { payload: string; text: string } }
export interface ReactionMessage extends MessageBase {
  type: 'reaction'
  /** `emoji` is empty or absent when the reaction was removed. */
  reaction: { message_id: string; emoji?: string }
}
export interface OrderMessage extends MessageBase {
  type: 'order'
  order: {
    catalog_id: string
    text?: string
    product_items: Array<{ product_retailer_id: string; quantity: number; item_price: number; currency: string }>
  }
}
export interface SystemMessage extends MessageBase {
  type: 'system'
  system: { body?: string; type?: string; wa_id?: string; customer?: string; [extra: string]: unknown }
}
export interface EditMessage extends MessageBase {
  type: 'edit'
  edit: { original_message_id: string; message: Record<string, unknown> }
}
export interface RevokeMessage extends MessageBase { type: 'revoke'; revoke: { original_message_id: string } }
export interface UnsupportedMessage extends MessageBase { type: 'unsupported'; unsupported: Record<string, unknown> }
/** Meta's older name of `unsupported`. */
export interface UnknownTypeMessage extends MessageBase { type: 'unknown'; unknown: Record<string, unknown> | null }
/** The user opened the chat for the first time (no payload; `request_welcome` is null). */
export interface RequestWelcomeMessage extends MessageBase { type: 'request_welcome'; request_welcome: Record<string, unknown> | null }

/** The message types typed above (narrow on `type`). */
export type KnownMessageType = KnownMessageEvent['type']

/**
 * An inbound message of a wire `type` wa360 does not model (lenient in: never
 * an error): `type` is the string Meta sent (or null) and the payload sits
 * under that key. It is part of `Event`, so `ev.type === 'text'` alone does not
 * narrow (TypeScript cannot discriminate against an open `string`): narrow
 * with `isKnownMessage(ev)` first, then switch on `ev.type`. When `type` is a
 * reserved name (a canonical key such as `id` or `status`, or an
 * `Object.prototype` member such as `toJSON` or `__proto__`), the payload is
 * under `payload` instead (tests/conformance/webhook_parse/README.md).
 */
export interface OtherMessage extends MessageBase {
  type: string | null
  [payload: string]: unknown
}

export type KnownMessageEvent =
  | TextMessage | ImageMessage | VideoMessage | AudioMessage | DocumentMessage | StickerMessage
  | LocationMessage | ContactsMessage | InteractiveMessage | ButtonMessage | ReactionMessage
  | OrderMessage | SystemMessage | EditMessage | RevokeMessage | UnsupportedMessage
  | UnknownTypeMessage | RequestWelcomeMessage

export type CanonicalMessageEvent = KnownMessageEvent | OtherMessage

/** Delivery states Meta documents; any other value arrives unchanged. */
export type StatusValue = 'sent' | 'delivered' | 'read' | 'played' | 'failed' | 'deleted' | 'warning' | (string & {})

export interface CanonicalStatusEvent extends EventOrigin {
  kind: 'status'
  /** The outbound message id this status is about. */
  id: string | null
  status: StatusValue | null
  timestamp: number | null
  recipient_id: string | null
  recipient_user_id: string | null
  conversation: { id?: string; expiration_timestamp?: string; origin?: { type?: string }; [extra: string]: unknown } | null
  pricing: { billable?: boolean; pricing_model?: string; type?: string; category?: string; [extra: string]: unknown } | null
  errors: WebhookError[]
  /** What you sent as `biz_opaque_callback_data`. */
  biz_opaque_callback_data: string | null
}

/** The value-level `errors` of a `messages` change. */
export interface CanonicalErrorEvent extends EventOrigin {
  kind: 'error'
  errors: WebhookError[]
}

/** A change whose `field` is not `messages` (template status, quality, account, …). */
export interface CanonicalFieldUpdateEvent extends EventOrigin {
  kind: 'field_update'
  value: unknown
}

/** A piece that could not be read as anything above, kept raw. */
export interface CanonicalUnknownEvent extends EventOrigin {
  kind: 'unknown'
  raw: unknown
}

/** One canonical event as plain JSON data. */
export type CanonicalEvent =
  | CanonicalMessageEvent
  | CanonicalStatusEvent
  | CanonicalErrorEvent
  | CanonicalFieldUpdateEvent
  | CanonicalUnknownEvent

/** Adds `toJSON()` (non-enumerable) giving the canonical form. */
export type WithToJSON<T> = T & { toJSON(): T }

export type MessageEvent = WithToJSON<KnownMessageEvent> | WithToJSON<OtherMessage>
export type StatusEvent = WithToJSON<CanonicalStatusEvent>
export type ErrorEvent = WithToJSON<CanonicalErrorEvent>
export type FieldUpdateEvent = WithToJSON<CanonicalFieldUpdateEvent>
export type UnknownEvent = WithToJSON<CanonicalUnknownEvent>

/** One webhook event: narrow on `kind`, then (messages) on `type`. */
export type Event =
  | WithToJSON<TextMessage> | WithToJSON<ImageMessage> | WithToJSON<VideoMessage> | WithToJSON<AudioMessage>
  | WithToJSON<DocumentMessage> | WithToJSON<StickerMessage> | WithToJSON<LocationMessage>
  | WithToJSON<ContactsMessage> | WithToJSON<InteractiveMessage> | WithToJSON<ButtonMessage>
  | WithToJSON<ReactionMessage> | WithToJSON<OrderMessage> | WithToJSON<SystemMessage>
  | WithToJSON<EditMessage> | WithToJSON<RevokeMessage> | WithToJSON<UnsupportedMessage>
  | WithToJSON<UnknownTypeMessage> | WithToJSON<RequestWelcomeMessage>
  | WithToJSON<OtherMessage>
  | StatusEvent | ErrorEvent | FieldUpdateEvent | UnknownEvent
