using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// Meta's customer-service windows, counted from the customer's last message on the conversation
/// (<see cref="Conversation.LastInboundAt"/>): WhatsApp takes free-form messages for 24 hours, Instagram for 24 hours and,
/// tagged <c>HUMAN_AGENT</c>, for 7 days. A conversation the customer never wrote in has no window open.
/// </summary>
internal static class MetaWindows
{
    public static readonly TimeSpan Standard = TimeSpan.FromHours(24);

    public static readonly TimeSpan HumanAgent = TimeSpan.FromDays(7);

    public static readonly SendRefusal WhatsAppClosed = new("Outside the WhatsApp 24-hour window",
        "WhatsApp takes free-form messages only within 24 hours of the customer's last message. Send an approved template "
        + "instead (POST /api/companies/{companyId}/channels/{channelId}/templates/send); the customer's answer opens the window again.");

    public static readonly SendRefusal InstagramClosed = new("Outside the Instagram messaging window",
        "Instagram takes messages only within 24 hours of the customer's last message, and an agent's reply (tagged HUMAN_AGENT) "
        + "within 7 days. Wait for the customer to write again.");

    public static bool IsOpen(Conversation conversation, DateTimeOffset now, TimeSpan window) =>
        conversation.LastInboundAt is { } at && now - at <= window;
}
