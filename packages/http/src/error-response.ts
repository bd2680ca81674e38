import { Type } from 'typebox';

/** The one error shape of every API: `{statusCode, code, error, message}`; `code` is stable per cause. */
export const ErrorResponse = Type.Object({ statusCode: Type.Integer(), code: Type.String(), error: Type.String(), message: Type.String() });
