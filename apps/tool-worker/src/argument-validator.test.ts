import { defineTool, type JsonSchemaObject, type Tool } from '@volley/tools';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileArgumentValidator, type ArgumentValidator } from './argument-validator.ts';

function jsonSchemaValidator(parameters: JsonSchemaObject): ArgumentValidator {
  return compileArgumentValidator(defineTool({ name: 'json_tool', description: 'test', parameters, execute: () => null }));
}

function messageOf(validate: ArgumentValidator, args: Record<string, unknown>): string {
  const result = validate(args);
  if (result.ok) throw new Error(`expected ${JSON.stringify(args)} to be rejected`);
  return result.message;
}

describe('compileArgumentValidator', () => {
  describe('when the tool has zod parameters', () => {
    const tool: Tool = defineTool({
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: z.object({ city: z.string(), days: z.number().int().min(1).default(1) }),
      execute: () => null,
    });
    const validate = compileArgumentValidator(tool);

    it('accepts valid arguments and returns the parsed value', () => {
      expect(validate({ city: 'Paris' })).toEqual({ ok: true, value: { city: 'Paris', days: 1 } });
    });

    it('rejects invalid arguments with a message naming the field and the problem', () => {
      const message = messageOf(validate, { city: 42 });

      expect(message).toContain('city');
      expect(message).toMatch(/expected string/i);
    });

    it('reports every invalid field', () => {
      const message = messageOf(validate, { days: 0 });

      expect(message).toContain('city');
      expect(message).toContain('days');
    });
  });

  describe('when the tool has JSON Schema 2020-12 parameters', () => {
    const validate = jsonSchemaValidator({
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        count: { type: 'integer' },
        ratio: { type: 'number' },
        date: { type: 'string', format: 'date' },
        location: {
          type: 'object',
          properties: { lat: { type: 'number' }, lon: { type: 'number' } },
          required: ['lat', 'lon'],
        },
      },
      required: ['city'],
    });

    it('accepts arguments that match and returns them unchanged', () => {
      const args = { city: 'Paris', unit: 'celsius', count: 3, ratio: 0.5, date: '2024-02-29', location: { lat: 1, lon: 2 } };

      expect(validate(args)).toEqual({ ok: true, value: args });
    });

    it('rejects a missing required property, naming it', () => {
      expect(messageOf(validate, { unit: 'celsius' })).toContain("must have required property 'city'");
    });

    it('rejects a value outside the enum', () => {
      expect(messageOf(validate, { city: 'Paris', unit: 'kelvin' })).toMatch(/^\/unit must be equal to one of the allowed values/);
    });

    it('rejects a fractional number where an integer is required', () => {
      expect(messageOf(validate, { city: 'Paris', count: 2.5 })).toContain('/count must be integer');
    });

    it('accepts 20.0 as an integer', () => {
      expect(validate({ city: 'Paris', ...JSON.parse('{"count":20.0}') }).ok).toBe(true);
    });

    it('accepts an integer where a number is required', () => {
      expect(validate({ city: 'Paris', ratio: 2 }).ok).toBe(true);
    });

    it.each(['tomorrow', '2024-02-30', '2024-13-01', '2024-1-1'])('rejects %j as a date', (date) => {
      expect(messageOf(validate, { city: 'Paris', date })).toContain('/date must match format "date"');
    });

    it('rejects a nested object missing one of its required properties', () => {
      expect(messageOf(validate, { city: 'Paris', location: { lat: 1 } })).toContain("/location must have required property 'lon'");
    });

    it('reports every problem in one message', () => {
      const message = messageOf(validate, { unit: 'kelvin', count: 'three' });

      expect(message.split('; ')).toHaveLength(3);
    });

    it('allows properties the schema does not declare when it does not forbid them', () => {
      expect(validate({ city: 'Paris', extra: { anything: true } }).ok).toBe(true);
    });
  });

  describe('when the JSON Schema forbids extra properties', () => {
    it('rejects them', () => {
      const validate = jsonSchemaValidator({
        type: 'object',
        properties: { city: { type: 'string' } },
        additionalProperties: false,
      });

      expect(messageOf(validate, { city: 'Paris', extra: 1 })).toContain('must NOT have additional properties');
    });
  });

  describe('when the JSON Schema requires keys it never declares under properties', () => {
    it('still compiles, and enforces the requirement', () => {
      const validate = jsonSchemaValidator({
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city', 'country'],
      });

      expect(validate({ city: 'Paris', country: 'FR' }).ok).toBe(true);
      expect(messageOf(validate, { city: 'Paris' })).toContain("must have required property 'country'");
    });
  });

  describe('when the JSON Schema carries unknown keywords', () => {
    it('ignores them', () => {
      const validate = jsonSchemaValidator({
        type: 'object',
        properties: { city: { type: 'string', 'x-example': 'Paris' } },
        'x-vendor': true,
      });

      expect(validate({ city: 'Paris' }).ok).toBe(true);
    });
  });
});

describe('compileArgumentValidator with schemas written for other places', () => {
  describe('when a schema names another draft in $schema', () => {
    it('compiles it standalone and validates', () => {
      const validate = jsonSchemaValidator({
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: { city: { type: 'string' } },
        required: ['city'],
      });
      expect(validate({ city: 'Oslo' }).ok).toBe(true);
      expect(validate({}).ok).toBe(false);
    });
  });

  describe('when two tools carry the same $id', () => {
    it('compiles both', () => {
      const parameters = { $id: 'https://example.com/args', type: 'object', properties: { n: { type: 'integer' } } };
      expect(jsonSchemaValidator(parameters)({ n: 1 }).ok).toBe(true);
      expect(jsonSchemaValidator({ ...parameters })({ n: 'one' }).ok).toBe(false);
    });
  });
});
