import { Type } from 'typebox';
import { CreateTeamBody, PageQuery, Team, TeamPage, UpdateTeamBody } from '@tenant-sync/contracts';
import { ErrorResponse } from '@tenant-sync/http';

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

export const createTeamSchema = { body: CreateTeamBody, response: { 201: Team, 409: ErrorResponse, ...errors } };
export const listTeamsSchema = { querystring: PageQuery, response: { 200: TeamPage, ...errors } };
export const getTeamSchema = { params: IdParams, response: { 200: Team, ...errors } };
export const updateTeamSchema = { params: IdParams, body: UpdateTeamBody, response: { 200: Team, 409: ErrorResponse, ...errors } };
export const deleteTeamSchema = { params: IdParams, response: { 204: Type.Null(), ...errors } };
