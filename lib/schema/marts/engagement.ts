import { runDate, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const omniChannelEngagement: TableSchema = {
  name: 'omni_channel_engagement',
  zone: 'analytics',
  location: 'omni_channel_engagement/',
  description:
    'Email, ad, web and purchase activity per customer over the engagement window, with rates and a channel mix; every customer active in any source appears.',
  columns: [
    customerId,
    col('emails_sent', 'int', 'Marketing emails sent.'),
    col('email_opens', 'int', 'Email opens.'),
    col('email_clicks', 'int', 'Email clicks.'),
    col('ad_views', 'int', 'Ad views.'),
    col('ad_clicks', 'int', 'Ad clicks.'),
    col('web_visits', 'int', 'Web visits.'),
    col('orders', 'int', 'Revenue orders.'),
    col('spend', 'decimal(14,2)', 'Revenue order spend.'),
    col('web_orders', 'int', 'Revenue orders on the web channel.'),
    col('mobile_orders', 'int', 'Revenue orders on the mobile channel.'),
    col('store_orders', 'int', 'Revenue orders in store.'),
    col('email_open_rate', 'double', 'Opens / emails sent; null when none were sent.'),
    col('email_click_rate', 'double', 'Clicks / emails sent; null when none were sent.'),
    col('ad_click_rate', 'double', 'Ad clicks / ad views; null without views.'),
    col('visit_conversion_rate', 'double', 'Orders / web visits; null without visits.'),
    col('active_channels', 'int', 'How many of email, ads, web, purchases saw activity.'),
    col('primary_channel', 'string', 'The channel with the most activity.'),
    col(
      'channel_mix',
      'string',
      'Share of activity per channel, for example email:0.50;web:0.30;ads:0.10;purchase:0.10.',
    ),
  ],
  partitionKeys: [runDate],
};
