import { describe, expect, it } from 'vitest';
import { streamedText } from './door-answer.ts';

describe('streamedText', () => {
  it('separates the pieces of a later model call from the earlier text, once', () => {
    const told = streamedText();
    expect([told.piece(0, 'Let me '), told.piece(0, 'check.'), told.piece(2, 'Sunny'), told.piece(2, ' in Paris.')]).toEqual([
      'Let me ',
      'check.',
      '\n\nSunny',
      ' in Paris.',
    ]);
    expect(told.rest('Let me check.\n\nSunny in Paris.')).toBe('');
  });

  it('puts no separator before the first text, whichever call it comes from', () => {
    expect(streamedText().piece(3, 'Done.')).toBe('Done.');
  });

  it('gives the end a stream missed, once, and nothing for a text it did not start', () => {
    const told = streamedText();
    told.piece(0, 'Sunny');
    expect(told.rest('Sunny in Paris.')).toBe(' in Paris.');
    expect(told.rest('Sunny in Paris.')).toBe('');
    expect(streamedText().rest(null)).toBe('');
    const other = streamedText();
    other.piece(0, 'Rainy');
    expect(other.rest('Sunny in Paris.')).toBe('');
  });
});
