namespace Omni.Voice;

/// <summary>Where a call stands. Each step but <see cref="Answering"/> and <see cref="Done"/> waits for one ACS operation's event.</summary>
internal enum CallStep
{
    Answering,
    Connecting,
    Menu,
    Transferring,
    Closing,
    Ending,
    Done,
}

/// <summary>The outcomes <c>/calls</c> shows.</summary>
internal static class CallOutcomes
{
    public const string Transferred = "transferred";
    public const string Closed = "closed";
    public const string Unanswered = "unanswered";
    public const string Abandoned = "abandoned";
    public const string Failed = "failed";
}

/// <summary>
/// A call in flight: what was decided when it arrived (<see cref="Open"/>, the menu as <c>digit=serviceId</c> pairs),
/// the step it is at and the operation context of the one ACS operation it waits for (<see cref="Operation"/>), what
/// the caller pressed. <see cref="SecretHashes"/> are the SHA-256 hashes of the callback secrets it was answered with.
/// </summary>
internal sealed record CallState(
    string Id, string CompanyId, string IvrId, string From, string To, string Caller, DateTimeOffset StartedAt,
    bool Open, IReadOnlyDictionary<string, string> Menu, CallStep Step, string? Operation, int Attempt, string Digits,
    string? ServiceId, string? Outcome, DateTimeOffset? EndedAt, string? CallConnectionId, IReadOnlyList<string> SecretHashes,
    DateTimeOffset? AnsweringSince)
{
    public CallRecord ToRecord() => new(Id, CompanyId, From, To, IvrId, StartedAt, EndedAt, Outcome, Digits, ServiceId);
}

internal enum CallEventKind
{
    Connected,
    PlayCompleted,
    PlayFailed,
    RecognizeCompleted,
    RecognizeFailed,
    TransferAccepted,
    TransferFailed,
    Disconnected,
}

/// <summary>One callback event of the call, as the flow reads it; <see cref="Digit"/> for a recognized tone (0–9, * or #).</summary>
internal sealed record CallEvent(CallEventKind Kind, string? CallConnectionId, string? OperationContext, string? Digit = null);

/// <summary>What the flow asks of ACS after a step: nothing, or one operation.</summary>
internal enum CallActionKind
{
    None,
    Menu,
    PlayClosed,
    PlayUnanswered,
    Transfer,
    HangUp,
}

/// <summary>
/// The call's state machine, a pure function of the state and one event. An event for another operation than the
/// one the call waits for (a duplicate, a late or out-of-order one) changes nothing, so ACS's repeats are harmless.
/// Open: the welcome plays inside a one-digit recognize; a digit of the menu transfers to its service; no digit or
/// one not in the menu offers the menu once more, then the unanswered message plays and the call is hung up. Closed:
/// the closed message plays and the call is hung up. A failed transfer plays the unanswered message and hangs up.
/// </summary>
internal static class CallFlow
{
    public const int MenuAttempts = 2;
    public const string TransferOperation = "transfer";
    public const string ClosedOperation = "closed";
    public const string UnansweredOperation = "unanswered";

    public static string MenuOperation(int attempt) => $"menu:{attempt}";

    /// <summary>ACS took the answer: the call now waits for CallConnected (which may already have come).</summary>
    public static CallState Answered(CallState s, string? callConnectionId) => s with
    {
        Step = s.Step == CallStep.Answering ? CallStep.Connecting : s.Step,
        CallConnectionId = s.CallConnectionId ?? callConnectionId,
        AnsweringSince = null,
    };

    public static (CallState State, CallActionKind Action) Apply(CallState s, CallEvent e, DateTimeOffset now)
    {
        switch (e.Kind)
        {
            case CallEventKind.Connected when s.Step is CallStep.Answering or CallStep.Connecting:
                var connected = s with { CallConnectionId = s.CallConnectionId ?? e.CallConnectionId, AnsweringSince = null };
                return s.Open
                    ? (connected with { Step = CallStep.Menu, Attempt = 1, Operation = MenuOperation(1) }, CallActionKind.Menu)
                    : (connected with { Step = CallStep.Closing, Operation = ClosedOperation }, CallActionKind.PlayClosed);

            case CallEventKind.RecognizeCompleted when Awaits(s, e, CallStep.Menu):
                var pressed = s with { Digits = s.Digits + e.Digit };
                return e.Digit is { } digit && s.Menu.TryGetValue(digit, out var serviceId)
                    ? (pressed with { Step = CallStep.Transferring, ServiceId = serviceId, Operation = TransferOperation }, CallActionKind.Transfer)
                    : OfferAgain(pressed);

            case CallEventKind.RecognizeFailed when Awaits(s, e, CallStep.Menu):
                return OfferAgain(s);

            case CallEventKind.TransferAccepted when e.OperationContext == TransferOperation && s.Operation == TransferOperation
                && (s.Step == CallStep.Transferring || s is { Step: CallStep.Done, Outcome: CallOutcomes.Abandoned }):
                // Also after a CallDisconnected that overtook it: our leg ends when the transfer is accepted.
                return (s with { Step = CallStep.Done, Outcome = CallOutcomes.Transferred, EndedAt = s.EndedAt ?? now }, CallActionKind.None);

            case CallEventKind.TransferFailed when Awaits(s, e, CallStep.Transferring):
                return Unanswered(s);

            case CallEventKind.PlayCompleted or CallEventKind.PlayFailed when Awaits(s, e, CallStep.Closing) || Awaits(s, e, CallStep.Ending):
                return (s with { Step = CallStep.Done, Outcome = s.Step == CallStep.Closing ? CallOutcomes.Closed : CallOutcomes.Unanswered, EndedAt = now }, CallActionKind.HangUp);

            case CallEventKind.Disconnected when s.Step != CallStep.Done:
                var outcome = s.Step switch
                {
                    CallStep.Closing => CallOutcomes.Closed,
                    CallStep.Ending => CallOutcomes.Unanswered,
                    _ => CallOutcomes.Abandoned,
                };
                return (s with { Step = CallStep.Done, Outcome = outcome, EndedAt = now }, CallActionKind.None);

            default:
                return (s, CallActionKind.None);
        }
    }

    /// <summary>The operation asked of ACS could not be made: a transfer ends as unanswered, anything else as failed.</summary>
    public static (CallState State, CallActionKind Action) ActionFailed(CallState s, CallActionKind action, DateTimeOffset now) =>
        s.Step == CallStep.Done ? (s, CallActionKind.None)
        : action == CallActionKind.Transfer ? Unanswered(s)
        : (s with { Step = CallStep.Done, Outcome = CallOutcomes.Failed, EndedAt = now }, CallActionKind.HangUp);

    private static bool Awaits(CallState s, CallEvent e, CallStep step) => s.Step == step && e.OperationContext == s.Operation;

    private static (CallState, CallActionKind) OfferAgain(CallState s) =>
        s.Attempt < MenuAttempts
            ? (s with { Attempt = s.Attempt + 1, Operation = MenuOperation(s.Attempt + 1) }, CallActionKind.Menu)
            : Unanswered(s);

    private static (CallState, CallActionKind) Unanswered(CallState s) =>
        (s with { Step = CallStep.Ending, Operation = UnansweredOperation }, CallActionKind.PlayUnanswered);
}
