/** The error body the OpenAI API sends, which the `openai` SDK turns into an `APIError`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function openAIError(status: number, message: string, details: { code?: string; param?: string } = {}): OpenAIErrorBody {
  return {
    error: { message, type: errorType(status), param: details.param ?? null, code: details.code ?? null },
  };
}

// Mirrors the `type` values the real API uses, so code that branches on them sees familiar input.
function errorType(status: number): string {
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
