// ESM entry: the same objects as the CommonJS entry.
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const wa360 = require('./wa360.js')
export default wa360
export const {
  Client, setLogger, Campaign, Ledger, Verifier, Sandbox, Deduper, StatusFold, Inbox, Consumer, Receiver, buildMessage, ErrorCodes, KnownMessageTypes, isWa360Error, settled, parseWebhook, parseWebhookToJson, isKnownMessage,
  hubChallenge, hubChallengeFromQuery, validateWebhookUrl, validateWebhookSettings, signWebhook,
  MediaCache, buildTemplate, buildProfileUpdate, parseTemplateList, checkTemplateSend,
  _panicForTests, _panicForTestsAsync, _errorFields,
} = wa360
