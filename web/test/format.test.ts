import { describe, expect, it } from 'vitest';
import { frameErrorText, refusalText } from '../src/app/format';
import { MessageRefused } from '../src/client';

describe('frameErrorText', () => {
  it('words the schema’s codes, and shows the service’s message for the rest', () => {
    expect(frameErrorText({ type: 'error', code: 'rate_limited', message: 'too many frames; slow down' })).toMatch(/too fast/);
    expect(frameErrorText({ type: 'error', code: 'invalid_request', message: 'id must be between 0 and 7' })).toBe('id must be between 0 and 7');
    expect(frameErrorText({ type: 'error', code: 'a_newer_code', message: 'something new' })).toBe('something new');
    expect(frameErrorText({ type: 'error', code: 'a_newer_code', message: '' })).toBe('a_newer_code');
  });
});

describe('refusalText', () => {
  it('names the service’s limit', () => {
    expect(refusalText(new MessageRefused('message_too_long', '', 500))).toBe('A message is at most 500 characters.');
    expect(refusalText(new MessageRefused('frame_too_large', '', 8192))).toMatch(/too large/);
    expect(refusalText(new MessageRefused('invalid_request', ''))).toMatch(/U\+0000/);
  });
});
