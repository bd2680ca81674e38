import { Type } from 'typebox';

/** The one error shape of every API: `{statusCode, error, message}`. */
export const ErrorResponse = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });
