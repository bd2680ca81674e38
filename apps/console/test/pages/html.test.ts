import { describe, expect, it } from 'vitest';
import { html } from '../../src/pages/html.ts';
import { sessionToken } from '../../src/tenant/session.ts';

describe('html', () => {
  it('escapes every interpolated value that is not markup made by html', () => {
    const name = '<script>alert("x")</script>\'&';
    const page = html`<td title="${name}">${name}${html`<b>${name}</b>`}${[name, html`<i>ok</i>`]}</td>`.markup;
    expect(page).not.toContain('<script>');
    expect(page).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;</b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;<i>ok</i></td>',
    );
  });
});

describe('sessionToken', () => {
  it('reads the console cookie only, and only when it has the shape of a JWT', () => {
    expect(sessionToken('a=b; __Host-console-token=aaa.bbb.ccc; c=d')).toBe('aaa.bbb.ccc');
    expect(sessionToken('console-token=aaa.bbb.ccc')).toBeUndefined();
    expect(sessionToken('__Host-console-token=aaa.bbb.ccc"><script>')).toBeUndefined();
    expect(sessionToken(undefined)).toBeUndefined();
  });
});
