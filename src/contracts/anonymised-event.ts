import type { AppLaunch, CommandEvent, DataAccess, EventSource, NetworkFlow, ResourceSample, SubjectKind } from './telemetry-event.js';

/**
 * A TelemetryEvent after anonymisation: the only shape the store accepts. The subject is a
 * keyed pseudonym (`v_…`, `u_…`, `c_…`), launch users and sessions are pseudonyms too, every free
 * text has been scrubbed, and a command keeps only its program name.
 */
interface AnonymisedBase {
  time: number;
  /** Pseudonym; its first letter tells the kind (u user, c client, v vm). */
  subject: string;
  subjectKind: SubjectKind;
  category?: string | undefined;
  source: EventSource;
  /**
   * The subject's pseudonyms under older keys still in the keyring (only on agent events, only
   * after a rotation): consent granted before the rotation was recorded under those. Never stored.
   */
  aliases?: readonly string[] | undefined;
  /** The image version digest the agent observed this in (never personal). */
  image?: string | undefined;
}

type Strip<T> = Omit<T, 'subject' | 'time' | 'category' | 'source' | 'image'>;

export type AnonymisedResource = AnonymisedBase & Strip<ResourceSample>;
export type AnonymisedLaunch = AnonymisedBase & Strip<AppLaunch>;
export type AnonymisedCommand = AnonymisedBase & Omit<Strip<CommandEvent>, 'command'> & { program: string };
export type AnonymisedFlow = AnonymisedBase & Strip<NetworkFlow>;
export type AnonymisedAccess = AnonymisedBase & Strip<DataAccess>;

export type AnonymisedEvent = AnonymisedResource | AnonymisedLaunch | AnonymisedCommand | AnonymisedFlow | AnonymisedAccess;
