// Compile-time checks of the webhook event types (tsc --noEmit; never executed).
import { parseWebhook, isKnownMessage, type Event } from '../wa360.js'

const evs: Event[] = parseWebhook('{}')
for (const ev of evs) {
  if (ev.kind === 'message' && isKnownMessage(ev)) {
    switch (ev.type) {
      case 'text': { const b: string = ev.text.body; void b; break }
      case 'image': { const id: string = ev.image.id; void id; break }
      case 'interactive':
        if (ev.interactive.type === 'button_reply') { const t: string = ev.interactive.button_reply.title; void t }
        break
      case 'reaction': { const m: string = ev.reaction.message_id; void m; break }
      // Both are known types (isKnownMessage is true for them): each narrows to its payload.
      case 'request_welcome': { const w: Record<string, unknown> | null = ev.request_welcome; void w; break }
      case 'unknown': { const u: Record<string, unknown> | null = ev.unknown; void u; break }
      default: break
    }
  }
  if (ev.kind === 'message') {
    const t: string | null = ev.type
    const from: string | null = ev.from
    void t; void from
  }
  if (ev.kind === 'status') {
    const s: string | null = ev.status
    const category: string | undefined = ev.pricing?.category
    const cb: string | null = ev.biz_opaque_callback_data
    void s; void category; void cb
  }
  if (ev.kind === 'field_update') { const v: unknown = ev.value; void v }
  const canonical = ev.toJSON()
  void canonical.kind
  // @ts-expect-error: status events have no `type`
  if (ev.kind === 'status') void ev.type
}
