import { describe, expect, it } from 'vitest';
import { directPeer, directRoom, isDirectRoom, isValidRoom, normalizeRoomInput } from '../src/client';

const LOW = '0b6f2c1e-0000-4000-8000-000000000001';
const HIGH = 'f0000000-0000-4000-8000-000000000002';

describe('rooms', () => {
  it('names a direct room with the lower id first, whatever the order or case', () => {
    expect(directRoom(HIGH, LOW)).toBe(`dm.${LOW}.${HIGH}`);
    expect(directRoom(LOW.toUpperCase(), HIGH)).toBe(`dm.${LOW}.${HIGH}`);
    expect(() => directRoom(LOW, LOW)).toThrow(RangeError);
    expect(() => directRoom(LOW, 'bob')).toThrow(RangeError);
  });

  it('validates room names like the contract', () => {
    expect(isValidRoom('lobby')).toBe(true);
    expect(isValidRoom('a'.repeat(64))).toBe(true);
    expect(isValidRoom('a'.repeat(65))).toBe(false);
    expect(isValidRoom('-a')).toBe(false);
    expect(isValidRoom('Lobby')).toBe(false);
    expect(isValidRoom(`dm.${LOW}.${HIGH}`)).toBe(true);
    expect(isDirectRoom(`dm.${HIGH}.${LOW}`)).toBe(false);
    expect(isValidRoom(`dm.${HIGH}.${LOW}`)).toBe(false);
    expect(isValidRoom(`dm.${LOW.toUpperCase()}.${HIGH}`)).toBe(false);
    expect(isValidRoom('dm')).toBe(true); // a public room that only starts like one
    expect(isValidRoom('a.b')).toBe(false);
    expect(isValidRoom('lobby\n')).toBe(false);
  });

  it('normalizes what a person types', () => {
    expect(normalizeRoomInput('  #Team Chat ')).toBe('team-chat');
    expect(normalizeRoomInput('ok_1')).toBe('ok_1');
    expect(normalizeRoomInput('no/slash')).toBeUndefined();
    expect(normalizeRoomInput(`dm.${LOW}.${HIGH}`)).toBeUndefined(); // direct rooms are opened by user id
    expect(normalizeRoomInput('')).toBeUndefined();
  });

  it('finds the other member of a direct room', () => {
    expect(directPeer(`dm.${LOW}.${HIGH}`, LOW)).toBe(HIGH);
    expect(directPeer(`dm.${LOW}.${HIGH}`, HIGH)).toBe(LOW);
    expect(directPeer('lobby', LOW)).toBeUndefined();
  });
});
