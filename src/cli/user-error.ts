import { AppError, DiskFullError, PermissionDeniedError, ValidationError, toAppError } from '../core/errors.js';

/**
 * A thrown value as the error a user reads: one line naming the problem and the fix. A system
 * error that escaped a command (ENOENT, EACCES…) names its path and what to do about it instead
 * of surfacing as INTERNAL with a stack trace.
 */
export function toUserError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  const errno = e as NodeJS.ErrnoException | undefined;
  const path = typeof errno?.path === 'string' ? errno.path : undefined;
  switch (errno?.code) {
    case 'ENOENT':
      return path ? new ValidationError(path, 'no such file or folder; check the path') : toAppError(e);
    case 'EACCES':
    case 'EPERM':
      return new PermissionDeniedError(`permission denied: ${path ?? errno.syscall ?? 'operation'}; run as a user who may ${errno.syscall === 'open' || errno.syscall === 'mkdir' ? 'write there' : 'do this'} (or as root), or point PRESCIENT_HOME at a folder you own`, path ? { path } : undefined);
    case 'EROFS':
      return new PermissionDeniedError(`read-only file system: ${path ?? ''}; point PRESCIENT_HOME at a writable folder`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new DiskFullError(e, path ? { path } : {});
    case 'EISDIR':
      return new ValidationError(path ?? 'file', 'is a folder; give a file');
    case 'ENOTDIR':
      return new ValidationError(path ?? 'path', 'a part of the path is not a folder; check the path');
    default:
      return toAppError(e);
  }
}
