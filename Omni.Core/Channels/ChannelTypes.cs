namespace Omni.Channels;

public static class ChannelTypes
{
    public const string Omni = "omni";
    public const string Email = "email";
    public const string MicrosoftEmail = "microsoft-email";
    public const string WhatsApp = "whatsapp";
    public const string Instagram = "instagram";
    public const string Webchat = "webchat";
    public const string MercadoLivre = "mercadolivre";

    public static readonly IReadOnlyList<string> All = [Omni, Email, MicrosoftEmail, WhatsApp, Instagram, Webchat, MercadoLivre];
}
