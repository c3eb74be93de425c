// Compile-time checks of the management typings (run by `tsc --noEmit`, never executed).
import { Client, MediaCache, checkTemplateSend, type TemplateInfo, type HealthCheck } from '../wa360.js'

async function demo(client: Client): Promise<string[]> {
  const names: string[] = []
  for await (const t of client.listTemplates({ source: 'graph', pageSize: 50 })) {
    const info: TemplateInfo = t
    names.push(`${info.name} ${info.language} ${info.status ?? ''} ${info.rejected_reason ?? ''}`)
  }
  for await (const u of client.listBlockedUsers()) names.push(u.wa_id ?? '')
  // @ts-expect-error: source is config or graph
  client.listTemplates({ source: 'rest' })
  const h: HealthCheck = await client.checkHealth()
  if (!h.key_ok) names.push(...h.problems)
  await client.updateProfile({ about: 'Open', profilePictureHandle: 'h' })
  const up = await client.uploadMediaCached(Buffer.from('x'), 'image/png', new MediaCache({ path: 'c.sqlite3' }))
  names.push(up.media_id)
  const [t] = await client.findTemplates('order_update', { language: 'en_US' })
  checkTemplateSend(t, { to: '1', type: 'template', template: { name: t.name } })
  return names
}
void demo
