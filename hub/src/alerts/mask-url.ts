/**
 * A webhook URL as staff may read it back: scheme, host and the shape of the path stay, so people
 * recognise the target; what works as a credential does not. Robots carry their key in the query
 * (WeCom `key`, DingTalk `access_token`) or in the path (Feishu `/hook/<token>`, generic receivers
 * such as `/hooks/<id>/<secret>`), so every query value is masked, and so is every path segment
 * after a hook-like segment or that looks like a random token.
 */
const MASK = '****';
const HOOK_SEGMENT = /^(hook|hooks|webhook|webhooks|services|token|tokens|keys?)$/i;

function looksSecret(segment: string, afterHook: boolean): boolean {
  const s = decodeURIComponent(segment);
  // after /hook/ anything but a short plain word (`send`) is the credential
  if (afterHook) return s.length >= 8 || /\d/.test(s);
  if (s.length < 16) return false;
  // long runs of letters and digits (tokens, UUIDs, base64url) rather than words like "cgi-bin"
  return /\d/.test(s) && /[a-z]/i.test(s) && /^[A-Za-z0-9_~.=+-]+$/.test(s);
}

export function maskUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return MASK;
  }
  const segments = url.pathname.split('/');
  let afterHook = false;
  const masked = segments.map((seg) => {
    if (!seg) return seg;
    const hook = HOOK_SEGMENT.test(seg);
    const secret = !hook && looksSecret(seg, afterHook);
    afterHook ||= hook;
    return secret ? MASK : seg;
  });
  const query = [...url.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${MASK}`).join('&');
  const auth = url.username || url.password ? `${MASK}@` : '';
  return `${url.protocol}//${auth}${url.host}${masked.join('/')}${query ? `?${query}` : ''}`;
}
