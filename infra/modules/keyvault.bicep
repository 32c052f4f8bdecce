// Key Vault in RBAC mode holding the platform admin token and the key that encrypts channel secrets.
// The app reads both through Key Vault references resolved with the user-assigned identity.
param name string
param location string
param tags object
param identityPrincipalId string
param adminTokenSecretName string
param secretsKeySecretName string
@secure()
param adminToken string
@secure()
param secretsKey string
param purgeProtection bool

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Losing Omni__SecretsKey loses every stored channel secret, so a deleted vault must stay recoverable.
    // Key Vault rejects an explicit false: leave it unset when turned off.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

// Written only when a value is given, so a later deployment without the values keeps what is in the vault
// (for example a token rotated with 'az keyvault secret set').
resource adminTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(adminToken)) {
  parent: vault
  name: adminTokenSecretName
  properties: {
    value: adminToken
    contentType: 'text/plain'
  }
}

resource secretsKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(secretsKey)) {
  parent: vault
  name: secretsKeySecretName
  properties: {
    value: secretsKey
    contentType: 'base64 of 32 bytes'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
