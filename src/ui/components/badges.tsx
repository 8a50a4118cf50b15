import type { AnswerSource } from '../../dashboard/views';

const answerText: Record<AnswerSource, string> = {
  prebuilt: 'prebuilt',
  built: 'built',
  joined: 'joined',
  'last-good': 'last-good',
  error: 'error',
};

const answerHelp: Record<AnswerSource, string> = {
  prebuilt: 'answered from an image built ahead of the request',
  built: 'the request ran the build',
  joined: 'joined a build already in flight',
  'last-good': 'the build failed; the last good version was handed out',
  error: 'no image could be handed out',
};

export function AnswerBadge(props: { source: AnswerSource | undefined; proactive?: boolean }) {
  if (!props.source) return <span class="muted">never asked</span>;
  return (
    <span class={`badge badge-${props.source}`} title={answerHelp[props.source]}>
      {answerText[props.source]}
      {props.proactive ? <span class="badge-note"> · ahead</span> : null}
    </span>
  );
}

/** Fresh under an hour, stale under a day, then old. */
export function FreshnessDot(props: { lastMs: number | undefined; now: number }) {
  if (props.lastMs === undefined) return <span class="dot dot-none" aria-hidden="true" />;
  const age = props.now - props.lastMs;
  const cls = age < 3600_000 ? 'dot-fresh' : age < 86_400_000 ? 'dot-stale' : 'dot-old';
  return <span class={`dot ${cls}`} aria-hidden="true" />;
}
