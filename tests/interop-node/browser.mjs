// A minimal browser for the interop suites: plain `fetch`, a tiny cookie jar, a regex form
// parser, and a user who fills in latchkey's login form and accepts its consent form.
// The contract it relies on:
//   - GET an authorization URL -> 200 text/html with one <form method="post"> holding
//     hidden inputs (at least `auth_request` and `csrf`), a text input `username` and a
//     password input `password`;
//   - POST that form -> 302 to the redirect_uri with `code`, `state` and `iss`, or a 200
//     consent page whose form has <button name="consent" value="accept|deny">;
//   - a wrong password -> 200 with the login form again and the word "Invalid".

import assert from 'node:assert/strict';

// ------------------------------------------------------------- HTML forms, by regex

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

/** The attributes of one tag, names lower-cased, values entity-decoded. */
function parseAttributes(source) {
  const attrs = {};
  for (const m of source.matchAll(/([^\s"'=<>\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** Every <form> of a page: {method, action, inputs: [attrs], buttons: [attrs]}. */
export function parseForms(html) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)].map(([, attrSource, inner]) => {
    const attrs = parseAttributes(attrSource);
    return {
      method: (attrs.method ?? 'get').toLowerCase(),
      action: attrs.action,
      inputs: [...inner.matchAll(/<input\b([^>]*)>/gi)].map((m) => parseAttributes(m[1])),
      buttons: [...inner.matchAll(/<button\b([^>]*)>/gi)].map((m) => parseAttributes(m[1])),
    };
  });
}

export const hiddenFields = (form) =>
  Object.fromEntries(form.inputs.filter((i) => (i.type ?? '').toLowerCase() === 'hidden').map((i) => [i.name, i.value]));
export const inputNamed = (form, name) => form.inputs.find((i) => i.name === name);

export const isLoginForm = (form) => (inputNamed(form, 'password')?.type ?? '').toLowerCase() === 'password';
export const isConsentForm = (form) => form.buttons.some((b) => b.name === 'consent');

// ---------------------------------------------------------------------- the browser

/**
 * A minimal browser: a cookie jar, no automatic redirects. Each request returns a
 * "page": {method, url, status, contentType, location (a URL or null), html, forms}.
 */
export class Browser {
  cookies = new Map();

  /** `user` ({username, password}) is who signs in when `drive` meets a login form. */
  constructor(serverOrigin, user) {
    this.serverOrigin = serverOrigin;
    this.user = user;
  }

  async request(url, { method = 'GET', form } = {}) {
    url = new URL(url);
    const headers = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const r = await fetch(url, { method, headers, body, redirect: 'manual' });
    for (const cookie of r.headers.getSetCookie()) {
      const pair = cookie.split(';', 1)[0];
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const html = await r.text();
    const location = r.headers.get('location');
    return {
      method,
      url,
      status: r.status,
      contentType: r.headers.get('content-type') ?? '',
      location: location === null ? null : new URL(location, url),
      html,
      forms: parseForms(html),
    };
  }

  /** Submit `form` of `page` as the login and consent pages expect: POST, urlencoded. */
  submit(page, form, fields) {
    const action = new URL(form.action || page.url.href, page.url);
    return this.request(action, { method: 'POST', form: { ...hiddenFields(form), ...fields } });
  }

  /**
   * From `page` on, act like a user: follow redirects within the server, fill in the
   * login form once, accept (or deny) the consent form once. Stops at the first
   * redirect that leaves the server (the answer to the client), or at a page it has
   * nothing more to do on (an error page, or the login form after a failed login).
   */
  async drive(page, { username = this.user?.username, password = this.user?.password, consent = 'accept' } = {}) {
    let loggedIn = false;
    let consented = false;
    for (let step = 0; step < 10; step++) {
      if (page.status >= 300 && page.status < 400 && page.location) {
        if (page.location.origin !== this.serverOrigin) return page;
        page = await this.request(page.location);
        continue;
      }
      if (page.status !== 200) return page;
      const login = page.forms.find(isLoginForm);
      if (login && !loggedIn) {
        loggedIn = true;
        page = await this.submit(page, login, { username, password });
        continue;
      }
      const consentForm = page.forms.find(isConsentForm);
      if (consentForm && !consented) {
        consented = true;
        page = await this.submit(page, consentForm, { consent });
        continue;
      }
      return page;
    }
    throw new Error(`the browser flow did not end after 10 steps; last: ${describePage(page)}`);
  }
}

export function describePage(page) {
  const text = page.html
    .replace(/<style[\s\S]*?<\/style>/gi, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return (
    `${page.method} ${page.url.href} -> ${page.status} ${page.contentType}` +
    `${page.location ? ` Location: ${page.location.href}` : ''}; text: ${text.slice(0, 300)}`
  );
}

/** The page redirected to `redirectUri`: returns the query of the redirect. */
export function assertRedirectTo(page, redirectUri, what) {
  assert.ok(
    page.status >= 300 && page.status < 400 && page.location,
    `${what}: expected a redirect to ${redirectUri}, got ${describePage(page)}`,
  );
  const target = new URL(page.location);
  assert.equal(`${target.origin}${target.pathname}`, redirectUri, `${what}: redirected to the redirect_uri`);
  return target.searchParams;
}

/** An HTML error page with a 4xx status and no redirect anywhere. */
export function assertErrorPage(page, what) {
  assert.ok(
    page.status >= 400 && page.status < 500,
    `${what}: expected a 4xx HTML error page without redirect, got ${describePage(page)}`,
  );
  assert.equal(page.location, null, `${what}: an error page carries no Location`);
  assert.match(page.contentType, /^text\/html/, `${what}: the error page is HTML`);
}
