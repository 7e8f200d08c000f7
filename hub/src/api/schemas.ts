import Type from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(ERROR_CODES) as ErrorCode[]),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  {
    $id: 'ErrorResponse',
    description: 'Every error: a stable code from the registry (see README), a message, details.',
  },
);

export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  422: ErrorResponse,
} as const;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
