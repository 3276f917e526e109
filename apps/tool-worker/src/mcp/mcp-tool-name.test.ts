import { TOOL_NAME_PATTERN } from '@volley/shared';
import { describe, expect, it } from 'vitest';
import { mcpToolName } from './mcp-tool-name.ts';

describe('mcpToolName', () => {
  it('joins server and tool with two underscores', () => {
    expect(mcpToolName('fs', 'read_text_file')).toBe('fs__read_text_file');
  });

  it('replaces what the tool-name alphabet lacks (dots, slashes) with "_"', () => {
    expect(mcpToolName('gh', 'repos/issues.list')).toBe('gh__repos_issues_list');
  });

  describe('when the name would pass 64 characters', () => {
    const long = 'a'.repeat(80);

    it('cuts it to 64 with a hash of the whole, which keeps names sharing a beginning apart', () => {
      const one = mcpToolName('server', `${long}_one`);
      const two = mcpToolName('server', `${long}_two`);
      expect(one).toMatch(TOOL_NAME_PATTERN);
      expect(one).toHaveLength(64);
      expect(one).not.toBe(two);
      expect(one.startsWith('server__aaaa')).toBe(true);
    });

    it('is the same every time', () => {
      expect(mcpToolName('server', long)).toBe(mcpToolName('server', long));
    });
  });
});
