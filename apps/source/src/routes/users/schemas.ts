import { Type } from 'typebox';
import { CreateUserBody, PageQuery, UpdateUserBody, User, UserPage } from '@tenant-sync/contracts';
import { ErrorResponse } from '@tenant-sync/http';



const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

export const createUserSchema = { body: CreateUserBody, response: { 201: User, 409: ErrorResponse, ...errors } };
export const listUsersSchema = { querystring: PageQuery, response: { 200: UserPage, ...errors } };
export const getUserSchema = { params: IdParams, response: { 200: User, ...errors } };
export const updateUserSchema = { params: IdParams, body: UpdateUserBody, response: { 200: User, 409: ErrorResponse, ...errors } };
export const deleteUserSchema = { params: IdParams, response: { 204: Type.Null(), ...errors } };
