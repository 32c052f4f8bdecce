namespace Omni.Functions.Triggers;

/// <summary>
/// The app's timer and queue functions by name: the one list the trigger registrations use. Each is the folder of a
/// <c>functions/&lt;Name&gt;/function.json</c> and the <c>POST /&lt;Name&gt;</c> the host invokes; Core handlers know
/// nothing of these names. <see cref="FunctionCatalog"/> checks the registrations against the files at start.
/// </summary>
internal static class FunctionNames
{
    public const string DeliverWebhook = "DeliverWebhook";
    public const string SendOutbound = "SendOutbound";
    public const string MailboxPollTimer = "MailboxPollTimer";
    public const string MailboxPoll = "MailboxPoll";
    public const string OutboxSweep = "OutboxSweep";
    public const string MetaEvent = "MetaEvent";
    public const string WebhookSweep = "WebhookSweep";
    public const string WhatsAppExpiry = "WhatsAppExpiry";
    public const string MercadoLivreNotification = "MercadoLivreNotification";
    public const string MercadoLivreMissedFeeds = "MercadoLivreMissedFeeds";

    public static readonly IReadOnlyList<string> All = [DeliverWebhook, SendOutbound, MailboxPollTimer, MailboxPoll, OutboxSweep, MetaEvent, WebhookSweep, WhatsAppExpiry, MercadoLivreNotification, MercadoLivreMissedFeeds];
}
