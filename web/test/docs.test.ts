// docs/api/README.md, the page a frontend developer reads first: its typed-client example
// is web/examples/quickstart.ts (which tsc compiles), and it covers every error code and
// close code the descriptions list.
import { describe, expect, it } from 'vitest';
import readme from '../../docs/api/README.md?raw';
import chatApi from '../../docs/api/chat.openapi.json';
import frames from '../../docs/api/chat.frames.schema.json';
import verificationApi from '../../docs/api/verification.openapi.json';
import example from '../examples/quickstart.ts?raw';

type Answer = { content?: { 'application/json'?: { schema?: { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } } } } };
type Doc = { paths: Record<string, Record<string, { responses?: Record<string, Answer> }>> };

/** Every HTTP error code an OpenAPI document's answers list. */
function httpCodes(doc: Doc): string[] {
  return Object.values(doc.paths)
    .flatMap((item) => Object.values(item))
    .flatMap((op) => Object.values(op.responses ?? {}))
    .flatMap((answer) => answer.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? []);
}

describe('docs/api/README.md', () => {
  it('shows the typed-client example exactly as web/examples/quickstart.ts has it', () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(example);
  });

  it('covers every HTTP error code, frame error code and close code of the descriptions', () => {
    const http = new Set([...httpCodes(verificationApi as unknown as Doc), ...httpCodes(chatApi as unknown as Doc)]);
    expect(http.size).toBeGreaterThan(5);
    for (const code of http) expect(readme, code).toMatch(new RegExp(`\\| \\d{3} \\| \`${code}\` \\|`));
    for (const code of frames.$defs.ErrorCode.enum) expect(readme, code).toContain(`| \`${code}\` |`);
    for (const { const: code, title } of frames.$defs.CloseCode.oneOf) expect(readme, title).toContain(`| ${code} | \`${title}\` |`);
  });
});
