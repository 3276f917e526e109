import { defineTool } from '@volley/tools';
import { z } from 'zod';

export const echoTool = defineTool({
  name: 'echo',
  description: 'Return the given text unchanged.',
  parameters: z.object({ text: z.string().describe('The text to return') }),
  execute: ({ text }) => text,
});
